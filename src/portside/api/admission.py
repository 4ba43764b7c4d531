"""What a request must be before any handler runs: a Host this server answers for, no NUL in
its path or query, and, for an API call with a body, a credential first and a bounded body.

FastAPI reads a request's whole body before it runs the dependencies that check the token, so
without this a 300 MB body without a token is held in memory before its 401. Here every
``/api/`` request that may carry a body (every one of them is a mutation) is checked from its
headers alone for a credential: an admin token, a personal token (``Bearer pst_...``) or the
login session's cookie. Only the admin token is verified here; a user's token or session is
let through to the handler, which decides what that user may do (and checks a session's
CSRF header, :mod:`portside.web.csrf`). A request with no credential at all is answered 401
at once. Then the body is read up to ``api.max_body`` (counted while streaming: a lying
``Content-Length`` does not help) and handed on. The registry's
webhook has its own token check and bound (:mod:`portside.api.notifications`) and is not seen here.

DNS rebinding: a page on another site can make a browser send requests to 127.0.0.1 under the
site's own name and read the answers. When reads are open because the server listens on
loopback, only the loopback names answer (``server.allowed_hosts`` widens or narrows that).
The registry's token server (``/v2/token``) answers any name, as the webhook does: registry
clients reach it by whatever name the registry's realm gives, and a rebinding page could only
get what anyone gets there (an anonymous token, or a throttled password guess).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portside.accounts.store import TOKEN_PREFIX
from portside.errors import PortsideError
from portside.settings import Settings
from portside.web.access import admin_tokens, loopback_only, reads_open, token_matches
from portside.web.sessions import COOKIE

BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY = None  # allowed_hosts: no restriction
LOOPBACK = frozenset({"localhost"})  # and every loopback address
REGISTRY_AUTH_PATH = "/v2/token"  # the registry's token server: any host name


def host_name(header: str) -> str:
    """The name or address of a ``Host`` header, without port, brackets, case or final dot."""
    value = header.strip().lower()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else value[1:]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The host names this server answers for (:data:`ANY`: all). Loopback addresses are
    in :data:`LOOPBACK` implicitly."""
    configured = settings.server.allowed_hosts
    if configured is not None:
        return ANY if "*" in configured else frozenset(host_name(n) for n in configured)
    if reads_open(settings) and loopback_only(settings.server.host):
        return LOOPBACK
    return ANY


def host_allowed(header: str | None, allowed: frozenset[str] | None) -> bool:
    """Whether a request with this ``Host`` header is answered. No header (HTTP/1.0, not a
    browser) is answered."""
    if allowed is ANY or header is None:
        return True
    name = host_name(header)
    if name in allowed:
        return True
    if allowed is LOOPBACK:
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False
    return False


def has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


def has_credential(authorization: str | None, cookie: str | None, admin: list[str]) -> bool:
    """Whether a mutation may reach its handler: an admin token (checked here, in constant
    time), or what may be a user's personal token or login session (checked by the handler)."""
    if token_matches(authorization, admin):
        return True
    if authorization is not None:
        offered = authorization.strip()
        return offered[:7].lower() == "bearer " and offered[7:].strip().startswith(TOKEN_PREFIX)
    return cookie is not None and any(
        part.strip().startswith(COOKIE + "=") for part in cookie.split(";")
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _answer(
    send: Send, status: int, code: str, message: str, extra: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyTooLarge(PortsideError):
    """A request body over its limit (413)."""


async def read_bounded(receive: Receive, length: str | None, limit: int) -> list[Message]:
    """The request's body messages, at most ``limit`` bytes in all; raises BodyTooLarge."""
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise BodyTooLarge
    messages, total = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        total += len(message.get("body", b""))
        if total > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            return messages


class Admission:
    """ASGI middleware: refuse what no handler should see (see the module's docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings
        self.hosts = allowed_hosts(settings)
        self.tokens = admin_tokens(settings)
        self.max_body = settings.api.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] != REGISTRY_AUTH_PATH and not host_allowed(
            _header(scope, b"host"), self.hosts
        ):
            await _answer(
                send,
                421,
                "misdirected",
                "this server does not answer for that host name (server.allowed_hosts)",
            )
            return
        if has_nul(scope):
            await _answer(send, 400, "invalid_request", "a NUL character in the path or query")
            return
        if not scope["path"].startswith("/api/") or scope["method"] in BODYLESS:
            await self.app(scope, receive, send)
            return
        if not has_credential(
            _header(scope, b"authorization"), _header(scope, b"cookie"), self.tokens
        ):
            await _answer(
                send,
                401,
                "unauthorized",
                "this call needs a credential: Authorization: Bearer <api.admin_tokens or a "
                "personal token>, or a login session",
                [(b"www-authenticate", b'Bearer realm="portside"')],
            )
            return
        try:
            messages = await read_bounded(receive, _header(scope, b"content-length"), self.max_body)
        except BodyTooLarge:
            await _answer(
                send,
                413,
                "too_large",
                f"the request body is over the limit of {self.max_body} bytes (api.max_body)",
            )
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
