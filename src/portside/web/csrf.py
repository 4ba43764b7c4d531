"""Cross-site request forgery: one random token per login session (and one before it, for
the login form), kept in the signed session cookie, sent back by every page form in the
hidden field ``csrf`` and by the pages' own API calls in the ``X-CSRF-Token`` header, and
compared in constant time.

Only credentials a browser sends by itself need it: the session cookie. A bearer token or
an admin token typed into a form is proof enough that the request was meant.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request

from portside.errors import PortsideError

SESSION_KEY = "csrf"
FIELD = "csrf"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TOKEN = 128


class CsrfRefused(PortsideError):
    """A state-changing request by session without its CSRF token (403)."""


class FormRefused(CsrfRefused):
    """A page's form posted without its CSRF token (403, answered with a page)."""


def session_of(request: Request) -> MutableMapping[str, Any] | None:
    """The request's session, or None when no session middleware is installed."""
    found = request.scope.get("session")
    return found if isinstance(found, MutableMapping) else None


def token_for(request: Request) -> str:
    """The session's CSRF token, made now if it has none ("" without sessions)."""
    session = session_of(request)
    if session is None:
        return ""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def renew(request: Request) -> str:
    """A new token (after logging in: a token seen before the login is not reused)."""
    session = session_of(request)
    if session is not None:
        session.pop(SESSION_KEY, None)
    return token_for(request)


def matches(expected: object, offered: str | None) -> bool:
    if not isinstance(expected, str) or not expected or not offered or len(offered) > MAX_TOKEN:
        return False
    return hmac.compare_digest(expected.encode(), offered.encode())


def check(request: Request, offered: str | None) -> None:
    """Raise :class:`CsrfRefused` unless ``offered`` is this session's token."""
    session = session_of(request)
    if not matches(session.get(SESSION_KEY) if session is not None else None, offered):
        raise CsrfRefused(
            "This form has expired or did not come from this site (its CSRF token is "
            "missing or wrong). Reload the page and try again."
        )


def check_form(request: Request, form: dict[str, list[str]]) -> None:
    try:
        check(request, (form.get(FIELD) or [""])[0])
    except CsrfRefused as exc:
        raise FormRefused(str(exc)) from None


def check_api_call(request: Request) -> None:
    """A state-changing API call authenticated by the session cookie: the page's script
    sends the token in ``X-CSRF-Token``."""
    if request.method in SAFE_METHODS:
        return
    try:
        check(request, request.headers.get(HEADER))
    except CsrfRefused as exc:
        raise CsrfRefused(
            "a call authenticated by the login session needs the X-CSRF-Token header"
        ) from exc
