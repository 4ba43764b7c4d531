"""Who is asking, and may they: the request's :class:`~portside.accounts.policy.Principal`
from an admin token, a personal token or the login session; anonymous otherwise (who sees
everything on a trusted bind: loopback, or ``api.anonymous_reads``; else the public
namespaces). Mutations of the index need an admin. Tokens are compared in constant time.

A directory user's personal token is refused once the directory no longer knows the user
(:mod:`portside.accounts.recheck`; 503 while it cannot be asked past the grace). A login
session holds the user's id and session generation; it stands while the user is
enabled and the generation is the user's (:func:`session_current`)."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from portside.accounts import recheck
from portside.accounts import store as accounts
from portside.accounts.policy import ANONYMOUS, EVERYONE, Principal
from portside.db.models import User
from portside.errors import PortsideError
from portside.settings import Settings
from portside.web import csrf
from portside.web.deps import ServicesDep


class Unauthorized(PortsideError):
    """No valid token for an API call that needs one (401)."""


class Forbidden(PortsideError):
    """A logged-in principal asking for what it may not see or do (403)."""


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


ADMIN_TOKEN = Principal(name=None, admin=True)
SESSION_USER = "user_id"  # the login session's key for the user's id
SESSION_GENERATION = "generation"  # and for the user's session generation at the login


def session_current(held: object, enabled: bool, generation: int) -> bool:
    """Whether a login session still stands: its user is enabled and the session holds the
    user's current session generation (a password change or "log out everywhere" bumps it;
    a session from before generations, holding none, stands no more)."""
    return enabled and isinstance(held, int) and not isinstance(held, bool) and held == generation


def open_session(request: Request, user: User) -> None:
    """Log ``user`` in: a new session (nothing from before the login is carried into it) with
    its id, its session generation and a new CSRF token."""
    request.session.clear()
    request.session[SESSION_USER] = user.id
    request.session[SESSION_GENERATION] = user.session_generation
    csrf.renew(request)


def keep_session(request: Request, user: User) -> None:
    """After ``user``'s sessions were ended (:func:`portside.accounts.store.end_sessions`): the
    request's own session stays logged in when it is that user's, with the new generation."""
    session = csrf.session_of(request)
    if session is not None and session.get(SESSION_USER) == user.id:
        session[SESSION_GENERATION] = user.session_generation


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    offered = header.strip()
    if offered[:7].lower() != "bearer ":
        return None
    return offered[7:].strip() or None


async def current_principal(request: Request, services: ServicesDep) -> Principal:
    """The request's principal, resolved once per request: an admin token, then a personal
    token (``Authorization: Bearer pst_...``), then the login session's user; anonymous
    otherwise. A token that matches nothing is a 401, not an anonymous read. A
    state-changing API call by session needs the session's ``X-CSRF-Token``
    (:class:`~portside.web.csrf.CsrfRefused`, 403)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await _resolve(request, services)
    request.state.principal = principal
    return principal


async def _resolve(request: Request, services: ServicesDep) -> Principal:
    settings = services.settings
    header = request.headers.get("authorization")
    if header is not None:
        if token_matches(header, admin_tokens(settings)):
            return ADMIN_TOKEN
        offered = _bearer(header)
        if offered is not None and offered.startswith(accounts.TOKEN_PREFIX):
            now = datetime.now(UTC)
            async with services.db.read() as session:
                found = await accounts.token_owner(session, offered, now)
                principal = (
                    None if found is None else await accounts.principal_for(session, found[1])
                )
            if found is not None and recheck.needs_recheck(found[1], settings.auth.ldap):
                assert settings.auth.ldap is not None  # a directory user: still there?
                if not await recheck.confirm(services.db, settings.auth.ldap, found[1], now):
                    principal = None
            if found is not None and principal is not None:
                if accounts.use_to_note(found[0], now):
                    async with services.db.write() as session:
                        await accounts.note_token_use(session, found[0].id, now)
                return principal
        raise Unauthorized("the token is not valid (wrong, revoked or expired)")
    session_data = request.scope.get("session")
    user_id = session_data.get(SESSION_USER) if isinstance(session_data, dict) else None
    if isinstance(user_id, int):
        assert isinstance(session_data, dict)
        async with services.db.read() as session:
            user = await accounts.user_by_id(session, user_id)
            if user is not None and session_current(
                session_data.get(SESSION_GENERATION), user.enabled, user.session_generation
            ):
                if request.url.path.startswith("/api/"):
                    csrf.check_api_call(request)  # the cookie comes by itself: the header not
                return await accounts.principal_for(session, user)
        session_data.pop(SESSION_USER, None)
        session_data.pop(SESSION_GENERATION, None)
    return EVERYONE if reads_open(settings) else ANONYMOUS


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def require_admin(principal: PrincipalDep) -> None:
    """Admins only: 401 without a credential, 403 for a user who is no admin."""
    if principal.authenticated and not principal.admin:
        raise Forbidden("this call needs an admin; this user is none")
    if not principal.admin:
        raise Unauthorized(
            "this call needs an admin: Authorization: Bearer <api.admin_tokens>, or an "
            "admin user's personal token or login"
        )


async def require_reader(principal: PrincipalDep) -> None:
    """Readers: everyone, anonymous included; every read filters by what the principal may
    see (anonymous on a closed bind: the public namespaces). Resolving the principal refuses
    a bad token (:func:`current_principal`)."""


def require_everything_of(principal: Principal, what: str) -> None:
    """Global numbers (the registry events, the tasks and queues, the metrics) are for who
    reads everything: admins, the admin tokens, trusted anonymous readers (``sees_all``)."""
    if principal.reads_everything:
        return
    if not principal.authenticated:
        raise Unauthorized(
            f"{what} needs an admin here: Authorization: Bearer <api.admin_tokens>, or an "
            "admin user's personal token or login"
        )
    raise Forbidden(f"{what} is shown to admins only")


async def require_everything(principal: PrincipalDep) -> None:
    require_everything_of(principal, "this call")


Admin = Annotated[None, Depends(require_admin)]
Reader = [Depends(require_reader)]
Everything = [Depends(require_everything)]
