"""Registry authentication: challenge parsing, token scopes and the token cache (no I/O here)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')

# A token is dropped this long before it expires, so that it never expires in flight.
EXPIRY_MARGIN = timedelta(seconds=10)
DEFAULT_TOKEN_LIFETIME = timedelta(seconds=60)


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic" (lower case)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def parse_challenge(header: str | None) -> Challenge | None:
    """Parse ``WWW-Authenticate: Bearer realm="...",service="...",scope="..."``."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {
        match.group(1).lower(): (
            match.group(2).replace('\\"', '"') if match.group(2) is not None else match.group(3)
        )
        for match in _PARAM.finditer(rest)
    }
    return Challenge(scheme=scheme.lower(), params=params)


def repository_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


CATALOG_SCOPE = "registry:catalog:*"


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: datetime

    def valid(self, now: datetime) -> bool:
        return now < self.expires_at - EXPIRY_MARGIN


def token_from_response(body: object, now: datetime) -> Token:
    """Read a token endpoint's answer: ``token`` or ``access_token``, ``expires_in``."""
    if not isinstance(body, dict):
        raise ValueError("token response is not a JSON object")
    value = body.get("token") or body.get("access_token")
    if not isinstance(value, str) or not value:
        raise ValueError("token response has neither token nor access_token")
    expires_in = body.get("expires_in")
    lifetime = (
        timedelta(seconds=expires_in)
        if isinstance(expires_in, int | float) and expires_in > 0
        else DEFAULT_TOKEN_LIFETIME
    )
    issued = now
    issued_at = body.get("issued_at")
    if isinstance(issued_at, str):
        try:
            parsed = datetime.fromisoformat(issued_at.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        # Trust the issuer's clock only when it is close to ours.
        if parsed is not None and parsed.tzinfo and abs(parsed - now) < timedelta(minutes=5):
            issued = parsed
    return Token(value=value, expires_at=issued + lifetime)


class TokenCache:
    """Bearer tokens by scope, kept until shortly before they expire."""

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}

    def get(self, scope: str, now: datetime) -> Token | None:
        token = self._tokens.get(scope)
        if token is not None and token.valid(now):
            return token
        self._tokens.pop(scope, None)
        return None

    def put(self, scope: str, token: Token) -> None:
        self._tokens[scope] = token

    def clear(self) -> None:
        self._tokens.clear()

    def __len__(self) -> int:
        return len(self._tokens)


class TokenSource(Protocol):
    """Where the client gets its Bearer tokens when it has no registry password: Portside
    signing its own (:class:`portside.tokenserver.own.SelfSigned`) for the challenge's
    ``service`` and a ``scope`` (empty: none)."""

    async def token(self, service: str | None, scope: str) -> Token: ...
