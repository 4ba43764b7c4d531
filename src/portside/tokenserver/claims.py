"""What a registry token grants, and its claims: pure functions of the request's scopes, the
principal, the namespaces' rules and "now" (distribution's spec/auth/scope.md and jwt.md).

A scope is ``TYPE[(CLASS)]:NAME:ACTION[,ACTION...]``: ``repository:team/app:pull,push``,
``repository(plugin):team/app:pull``, ``registry:catalog:*``. A scope that cannot be parsed, or
names no valid repository, is left out, as is every action the principal may not take: the
token then simply grants less, and the registry answers the client's request with its own 401
or 403 (the specification's way). Only the number of scopes is refused outright."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from portside.accounts.policy import NamespaceRule, Principal, grant, may_use_catalog
from portside.errors import PortsideError
from portside.index.names import is_valid_repository, namespace_of
from portside.settings import Settings

MAX_SCOPES = 32  # a pull of one image asks for one or two; a push with mounts a few more
MAX_SCOPE_LENGTH = 600
KNOWN_ACTIONS = ("pull", "push", "delete", "*")
_TYPE = re.compile(r"([a-z0-9]+)(?:\(([a-z0-9]+)\))?")


class ScopeError(PortsideError):
    """The request's scopes cannot be answered (too many): a 400."""


@dataclass(frozen=True)
class Scope:
    type: str  # "repository" or "registry"
    name: str
    actions: tuple[str, ...]
    resource_class: str | None = None  # "plugin" in repository(plugin):...


def parse_scope(text: str) -> Scope | None:
    """One scope, or None when it is not one this server answers. The name may hold ":"
    (the type ends at the first, the actions start after the last)."""
    if len(text) > MAX_SCOPE_LENGTH:
        return None
    kind, sep, rest = text.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not sep or not sep2 or not name:
        return None
    match = _TYPE.fullmatch(kind)
    if match is None:
        return None
    resource_type, resource_class = match.group(1), match.group(2)
    actions = tuple(
        dict.fromkeys(a for a in actions_text.split(",") if a in KNOWN_ACTIONS)  # ordered set
    )
    if not actions:
        return None
    if resource_type == "registry":
        if name != "catalog" or resource_class is not None:
            return None
        return Scope("registry", "catalog", ("*",))
    if resource_type != "repository" or not is_valid_repository(name):
        return None
    return Scope("repository", name, actions, resource_class)


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every answerable scope of the request's ``scope`` values (each may hold several,
    separated by spaces, as the OAuth2 form sends them); the same resource asked twice is
    merged. More than :data:`MAX_SCOPES` is a :class:`ScopeError`."""
    texts = [part for value in values for part in value.split()]
    if len(texts) > MAX_SCOPES:
        raise ScopeError(f"at most {MAX_SCOPES} scopes in one token request ({len(texts)} asked)")
    merged: dict[tuple[str, str, str | None], tuple[str, ...]] = {}
    for text in texts:
        scope = parse_scope(text)
        if scope is None:
            continue
        key = (scope.type, scope.name, scope.resource_class)
        merged[key] = tuple(dict.fromkeys(merged.get(key, ()) + scope.actions))
    return [Scope(kind, name, actions, cls) for (kind, name, cls), actions in merged.items()]


def namespaces_of(scopes: Iterable[Scope]) -> set[str]:
    """The namespaces whose rules :func:`access` needs."""
    return {namespace_of(s.name) for s in scopes if s.type == "repository"}


def access(
    principal: Principal,
    scopes: Iterable[Scope],
    rules: Mapping[str, NamespaceRule | None],
) -> list[dict[str, Any]]:
    """The token's ``access`` claim: each scope with the actions granted to the principal,
    scopes granted nothing left out. ``rules`` maps a namespace name to its rule (missing or
    None: unknown, private to the admins)."""
    granted: list[dict[str, Any]] = []
    for scope in scopes:
        if scope.type == "registry":
            if may_use_catalog(principal):
                granted.append({"type": "registry", "name": "catalog", "actions": ["*"]})
            continue
        actions = grant(principal, rules.get(namespace_of(scope.name)), scope.actions)
        if not actions:
            continue
        entry: dict[str, Any] = {"type": "repository", "name": scope.name, "actions": actions}
        if scope.resource_class is not None:
            entry["class"] = scope.resource_class
        granted.append(entry)
    return granted


def claims(
    *,
    issuer: str,
    subject: str,
    audience: str,
    granted: list[dict[str, Any]],
    now: datetime,
    lifetime: float,
    jti: str | None = None,
) -> dict[str, Any]:
    """The JWT claim set (spec/auth/jwt.md); times in whole seconds, ``aud`` a string (the
    registry 2.8 reads it as one)."""
    issued = int(now.timestamp())
    return {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": issued + int(lifetime),
        "nbf": issued,
        "iat": issued,
        "jti": jti or uuid.uuid4().hex,
        "access": granted,
    }


def service_name(settings: Settings) -> str | None:
    """The registry's ``auth.token.service``: ``auth.token.service``, else the registry URL's
    host:port (None when neither is set)."""
    if settings.auth.token.service:
        return settings.auth.token.service
    if settings.registry.url:
        parts = urlsplit(settings.registry.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname}:{port}"
    return None


def public_url(settings: Settings) -> str:
    """Portside's URL as registry clients reach it (``auth.public_url``, else from the
    server's host, port and TLS)."""
    if settings.auth.public_url:
        return settings.auth.public_url.rstrip("/")
    scheme = "https" if settings.server.tls else "http"
    host = settings.server.host
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{settings.server.port}"
