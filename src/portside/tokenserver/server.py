"""``/v2/token``: the registry's token server (distribution's spec/auth/token.md and oauth.md).

``GET /v2/token?service=...&scope=...`` with optional Basic credentials (a password or a
personal token), as the registry's clients ask (Portus's path); and ``POST /v2/token`` with
the OAuth2 form (``grant_type=password``). No credentials: a token granting what anonymous
users may (pulls from public namespaces). Wrong credentials: 401. Too many failures for a user
name or an address: 429 (:mod:`portside.accounts.throttle`, the pages' limits). What the
principal may not do is left out of the token's ``access``: the registry refuses it.

Passwords of directory users (``auth.ldap``) are checked by the directory
(:mod:`portside.accounts.logins`). When it cannot be reached the answer is 503 with
``Retry-After`` (``UNAVAILABLE``; OAuth2's ``temporarily_unavailable`` for POST), not 401: the
credentials were not found wrong, and a 401 would make clients report (and credential helpers
forget) a wrong password. Local accounts and personal tokens keep working meanwhile (a
directory user's token within ``auth.ldap.recheck_grace``: :mod:`portside.accounts.recheck`)."""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts import logins, throttle
from portside.accounts import store as accounts
from portside.accounts.ldap import DirectoryUnavailable
from portside.accounts.policy import ANONYMOUS, NamespaceRule, Principal
from portside.errors import PortsideError
from portside.tokenserver import claims
from portside.tokenserver.keys import TokenKeys
from portside.web.clients import client_address

if TYPE_CHECKING:
    from portside.services import Services

log = logging.getLogger(__name__)

router = APIRouter()

PATH = "/v2/token"
REALM = 'Basic realm="portside"'
MAX_HEADER = 4096
MAX_FORM = 64 * 1024
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
DIRECTORY_RETRY = "30"  # seconds, when the directory cannot be reached


@dataclass(frozen=True)
class Credentials:
    user: str
    secret: str


class Refusal(PortsideError):
    """A token request answered with an error (answered here, in the token server's own
    shapes: distribution's ``errors`` for GET, OAuth2's ``error`` for POST)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


def basic_credentials(header: str | None) -> Credentials | None:
    """``Authorization: Basic ...`` decoded; None without a header; Refusal when malformed."""
    if header is None:
        return None
    if len(header) > MAX_HEADER:
        raise Refusal(401, "UNAUTHORIZED", "the Authorization header is too long", _challenge())
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise Refusal(401, "UNAUTHORIZED", "use Basic credentials here", _challenge())
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Refusal(401, "UNAUTHORIZED", "malformed Basic credentials", _challenge()) from exc
    user, colon, secret = decoded.partition(":")
    if not colon or not user:
        raise Refusal(401, "UNAUTHORIZED", "malformed Basic credentials", _challenge())
    return Credentials(user, secret)


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": REALM}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _registry_url(services: Services) -> str | None:
    return services.registry.base_url if services.registry else services.settings.registry.url


def _keys(services: Services) -> TokenKeys:
    if services.token_keys is None:
        services.token_keys = TokenKeys(services.db, services.settings.auth.token)
    return services.token_keys


async def _rules(session: AsyncSession, names: set[str]) -> dict[str, NamespaceRule | None]:
    return {name: await accounts.namespace_rule(session, name) for name in sorted(names)}


async def _principal(
    services: Services,
    credentials: Credentials | None,
    address: str | None,
    names: set[str],
) -> tuple[Principal, dict[str, NamespaceRule | None]]:
    """Who asks (checked against the throttle and the accounts) and the namespaces' rules."""
    now = datetime.now(UTC)
    if credentials is None:
        async with services.db.read() as session:
            return ANONYMOUS, await _rules(session, names)
    limits = throttle.Limits.of(services.settings.auth.session)
    keys = throttle.keys(credentials.user, address)
    async with services.db.read() as session:
        wait = await throttle.blocked_for(session, keys, now, limits)
    if wait is not None:
        raise Refusal(
            429,
            "TOOMANYREQUESTS",
            "too many failed logins: try again later",
            {"Retry-After": throttle.retry_after_header(wait)},
        )
    try:
        user_id = await logins.check(
            services.db,
            services.settings.auth.ldap,
            credentials.user,
            credentials.secret,
            now,
            registry_url=_registry_url(services),
        )
    except DirectoryUnavailable as exc:
        log.error("token request of %r: %s", credentials.user[:80], exc)
        raise Refusal(
            503,
            "UNAVAILABLE",
            "the directory (LDAP) cannot be reached: directory users cannot log in now",
            {"Retry-After": DIRECTORY_RETRY},
        ) from exc
    async with services.db.write() as session:
        user = await accounts.user_by_id(session, user_id) if user_id is not None else None
        if user is None:
            await throttle.note_failure(session, keys, now, limits)
            refused = True
        else:
            await throttle.clear(session, throttle.user_key(credentials.user))
            principal = await accounts.principal_for(session, user)
            rules = await _rules(session, names)
            refused = False
    if refused:  # after the commit: the failure is counted
        log.info("token request refused for %r from %s", credentials.user[:80], address)
        raise Refusal(401, "UNAUTHORIZED", "wrong user name or password", _challenge())
    return principal, rules


async def issue(
    services: Services,
    credentials: Credentials | None,
    service: str | None,
    scope_values: list[str],
    address: str | None,
) -> dict[str, Any]:
    """The token answer for a request, or a Refusal."""
    settings = services.settings
    expected = claims.service_name(settings)
    if service and expected and service != expected:
        raise Refusal(
            400,
            "invalid_request",
            f"this token server signs for the service {expected!r}, not {service[:100]!r} "
            "(auth.token.service)",
        )
    audience = expected or service
    if not audience:
        raise Refusal(400, "invalid_request", "name the registry's service (service=...)")
    try:
        scopes = claims.parse_scopes(scope_values)
    except claims.ScopeError as exc:
        raise Refusal(400, "invalid_scope", str(exc)) from exc
    names = claims.namespaces_of(scopes)
    principal, rules = await _principal(services, credentials, address, names)
    now = datetime.now(UTC)
    lifetime = settings.auth.token.expiry
    granted = claims.access(principal, scopes, rules)
    claim_set = claims.claims(
        issuer=settings.auth.token.issuer,
        subject=principal.name or "",
        audience=audience,
        granted=granted,
        now=now,
        lifetime=lifetime,
    )
    token = (await _keys(services).get()).sign(claim_set)
    log.debug("token for %r: %s", principal.name, granted)
    return {
        "token": token,
        "access_token": token,
        "expires_in": int(lifetime),
        "issued_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _refused(refusal: Refusal, *, oauth: bool) -> JSONResponse:
    body: dict[str, Any]
    if oauth:
        body = {"error": refusal.code.lower(), "error_description": str(refusal)}
    else:
        body = {"errors": [{"code": refusal.code.upper(), "message": str(refusal)}]}
    return JSONResponse(body, status_code=refusal.status, headers={**NO_STORE, **refusal.headers})


@router.get(PATH, include_in_schema=False)
async def get_token(request: Request) -> JSONResponse:
    query = request.query_params
    try:
        answer = await issue(
            _services(request),
            basic_credentials(request.headers.get("authorization")),
            query.get("service"),
            query.getlist("scope"),
            client_address(request),
        )
    except Refusal as refusal:
        return _refused(refusal, oauth=False)
    return JSONResponse(answer, headers=NO_STORE)


async def _form(request: Request) -> dict[str, list[str]]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise Refusal(400, "invalid_request", "send the form as application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise Refusal(413, "invalid_request", f"the form is over {MAX_FORM} bytes")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refusal(400, "invalid_request", "the form cannot be read") from exc


@router.post(PATH, include_in_schema=False)
async def post_token(request: Request) -> JSONResponse:
    """The OAuth2 form: ``grant_type=password`` with ``username`` and ``password``."""
    try:
        form = await _form(request)
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != "password":
            raise Refusal(
                400,
                "unsupported_grant_type",
                "this token server answers grant_type=password (no refresh tokens are issued)",
            )
        user = (form.get("username") or [""])[0]
        secret = (form.get("password") or [""])[0]
        if not user:
            raise Refusal(400, "invalid_request", "username and password are required")
        answer = await issue(
            _services(request),
            Credentials(user, secret),
            (form.get("service") or [""])[0] or None,
            form.get("scope") or [],
            client_address(request),
        )
    except Refusal as refusal:
        if refusal.status == 401:
            refusal = Refusal(401, "invalid_grant", str(refusal), refusal.headers)
        elif refusal.status == 503:
            refusal = Refusal(503, "temporarily_unavailable", str(refusal), refusal.headers)
        return _refused(refusal, oauth=True)
    answer["scope"] = " ".join(part for value in form.get("scope", []) for part in value.split())
    return JSONResponse(answer, headers=NO_STORE)
