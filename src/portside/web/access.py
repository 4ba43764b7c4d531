"""Who may call what: mutations need an admin token; reads are open on loopback-only binds
(``api.anonymous_reads`` decides otherwise). Tokens are compared in constant time."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from portside.errors import PortsideError
from portside.settings import Settings
from portside.web.deps import ServicesDep


class Unauthorized(PortsideError):
    """No valid token for an API call that needs one (401)."""


def token_matches(header: str | None, tokens: list[str]) -> bool:
    """``Authorization: Bearer <token>`` (or the bare token) against every token, in constant
    time whichever matches."""
    if not header or not tokens:
        return False
    offered = header.strip()
    if offered[:7].lower() == "bearer ":
        offered = offered[7:].strip()
    if not offered:  # an empty or whitespace-only offer never matches, whatever is configured
        return False
    offered_bytes = offered.encode()
    found = False
    for token in tokens:
        # A blank configured token is refused at start (settings.check_tokens); skipped here too.
        found |= hmac.compare_digest(offered_bytes, token.encode()) and bool(token.strip())
    return found


def loopback_only(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def reads_open(settings: Settings) -> bool:
    if settings.api.anonymous_reads is not None:
        return settings.api.anonymous_reads
    return loopback_only(settings.server.host)


def admin_tokens(settings: Settings) -> list[str]:
    return [token.get_secret_value() for token in settings.api.admin_tokens]


async def require_admin(request: Request, services: ServicesDep) -> None:
    if not token_matches(request.headers.get("authorization"), admin_tokens(services.settings)):
        raise Unauthorized(
            "this call needs an admin token: Authorization: Bearer <api.admin_tokens>"
        )


async def require_reader(request: Request, services: ServicesDep) -> None:
    if reads_open(services.settings):
        return
    if not token_matches(request.headers.get("authorization"), admin_tokens(services.settings)):
        raise Unauthorized("reading needs a token here: Authorization: Bearer <api.admin_tokens>")


Admin = Annotated[None, Depends(require_admin)]
Reader = [Depends(require_reader)]
