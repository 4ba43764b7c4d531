"""The login session: Starlette's signed-cookie ``SessionMiddleware`` (itsdangerous), cookie
``portside_session``, HttpOnly, SameSite=Lax, Secure behind TLS, valid ``auth.session.lifetime``
seconds from the login. The session holds the user's id (:data:`portside.web.access.SESSION_USER`),
the user's session generation at the login (:data:`~portside.web.access.SESSION_GENERATION`: a
password change or "log out everywhere" bumps the user's, which logs out every session holding
the old one) and the CSRF token (:mod:`portside.web.csrf`), nothing else.

The signing key is generated once and kept in the database (:func:`portside.db.kept.kept`), so
that every worker accepts every other's cookies. The application is created before the database
is opened, so the key is fetched on the first request, from the services the lifespan opened.
"""

from __future__ import annotations

import asyncio
import secrets

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from portside.db.kept import kept
from portside.settings import Settings

COOKIE = "portside_session"
KEY_NAME = "session-key"


def secure_cookie(settings: Settings) -> bool:
    """``auth.session.secure_cookie``; by default when Portside is reached over HTTPS."""
    chosen = settings.auth.session.secure_cookie
    if chosen is not None:
        return chosen
    public = settings.auth.public_url or ""
    return public.lower().startswith("https://") or settings.server.tls is not None


def new_key() -> str:
    return secrets.token_urlsafe(48)


class Sessions:
    """ASGI middleware: Starlette's session middleware, built on the first request with the
    kept key."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings
        self.inner: SessionMiddleware | None = None
        self.lock = asyncio.Lock()

    async def _build(self, scope: Scope) -> SessionMiddleware:
        async with self.lock:
            if self.inner is None:
                services = scope["app"].state.services
                key = await kept(services.db, KEY_NAME, new_key)
                self.inner = SessionMiddleware(
                    self.app,
                    secret_key=key,
                    session_cookie=COOKIE,
                    max_age=max(1, int(self.settings.auth.session.lifetime)),
                    same_site="lax",
                    https_only=secure_cookie(self.settings),
                )
            return self.inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inner = self.inner or await self._build(scope)
        await inner(scope, receive, send)
