"""Who a page is for: the router dependency that resolves the request's principal once and
hands the layout its :class:`~portside.ui.render.Viewer`; the pages' login requirement (a
redirect to ``/login?next=...``) and refusal (403); reading a bounded form.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from portside.accounts.policy import Principal
from portside.errors import PortsideError
from portside.ui.render import NOBODY, Viewer, current_viewer
from portside.web import csrf
from portside.web.access import Unauthorized, current_principal
from portside.web.deps import ServicesDep

MAX_FORM = 16 * 1024
MAX_NEXT = 2000


class LoginNeeded(PortsideError):
    """A page for logged-in users, asked for without a login (answered by a redirect)."""


class PageForbidden(PortsideError):
    """A page or form the logged-in user may not use (403)."""


async def page_viewer(request: Request, services: ServicesDep) -> None:
    """Router dependency of every page: sets the layout's viewer for this request."""
    try:
        principal = await current_principal(request, services)
    except Unauthorized:  # a bad Authorization header: the page's own check answers it
        current_viewer.set(NOBODY)
        return
    signed_in = csrf.session_of(request) is not None and principal.user_id is not None
    current_viewer.set(
        Viewer(
            name=principal.name,
            admin=principal.admin,
            csrf=(lambda: csrf.token_for(request)) if signed_in else (lambda: ""),
        )
    )


async def signed_in(request: Request, services: ServicesDep) -> Principal:
    """The logged-in user (by session or token); else :class:`LoginNeeded`."""
    try:
        principal = await current_principal(request, services)
    except Unauthorized as exc:
        raise LoginNeeded(str(exc)) from exc
    if principal.user_id is None:
        raise LoginNeeded("log in first")
    return principal


async def signed_in_admin(principal: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not principal.admin:
        raise PageForbidden("This page is for administrators.")
    return principal


User = Annotated[Principal, Depends(signed_in)]
AdminUser = Annotated[Principal, Depends(signed_in_admin)]


def safe_next(value: str | None) -> str:
    """Where to go after logging in: a path on this server only (no scheme, no host, no
    ``//host`` or ``/\\host`` a browser would read as another site), else ``/``."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return "/"
    if value[1:2] in ("/", "\\") or any(ord(c) < 0x21 or c == "\\" for c in value):
        return "/"
    return value


async def read_form(request: Request) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body of at most :data:`MAX_FORM` bytes
    (a larger one reads as empty, and so fails its CSRF check)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def field(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]
