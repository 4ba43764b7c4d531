"""Logging in and out of the pages: ``GET/POST /login`` (``next=`` limited to this server's
paths), ``POST /logout``. A login is a user name and password (a bot or a personal token
does not log in here: tokens are for ``docker login`` and the API); with ``auth.ldap`` set,
directory users log in with their directory password (:mod:`portside.accounts.logins`), and
while the directory cannot be reached they get a 503 page saying so. Failed logins are
throttled per user name and per client address (:mod:`portside.accounts.throttle`): over the
limit the form answers 429 with ``Retry-After``, whether the password is right or not.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from portside.accounts import logins, throttle
from portside.accounts import store as accounts
from portside.accounts.ldap import DirectoryUnavailable
from portside.db.models import User
from portside.index.names import is_valid_namespace
from portside.ui.render import Pages
from portside.ui.viewer import field, read_form, safe_next
from portside.web import csrf
from portside.web.access import SESSION_USER, Unauthorized, current_principal, open_session
from portside.web.clients import client_address
from portside.web.deps import ServicesDep

if TYPE_CHECKING:
    from portside.services import Services

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
DIRECTORY_RETRY = "30"  # seconds, when the directory cannot be reached


async def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.portside_pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]


def registry_url(services: Services) -> str | None:
    """The registry a directory user's personal namespace is created in."""
    return services.registry.base_url if services.registry else services.settings.registry.url


def login_page(
    pages: Pages,
    request: Request,
    *,
    next_path: str,
    name: str = "",
    message: str | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return pages.render(
        "login.html",
        {
            "nav": "login",
            "next": next_path,
            "name": name,
            "message": message,
            "notice": notice,
            "login_csrf": csrf.token_for(request),
        },
        status=status,
        headers=headers,
    )


@router.get("/login")
async def login_form(
    request: Request,
    pages: PagesDep,
    services: ServicesDep,
    next: str | None = None,
    out: str | None = None,
) -> Response:
    target = safe_next(next)
    if isinstance(request.session.get(SESSION_USER), int) and out is None:
        try:  # a session that no longer stands (logged out everywhere) shows the form
            principal = await current_principal(request, services)
        except Unauthorized:
            principal = None
        if principal is not None and principal.user_id is not None:
            return RedirectResponse(target, status_code=303)
    notice = "You are logged out." if out is not None else None
    return login_page(pages, request, next_path=target, notice=notice)


@router.post("/login")
async def login(request: Request, pages: PagesDep, services: ServicesDep) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    name, password = field(form, "name").strip()[: accounts.MAX_NAME], field(form, "password")
    target = safe_next(field(form, "next"))
    now = datetime.now(UTC)
    bounds = throttle.Limits.of(services.settings.auth.session)
    keys = [throttle.address_key(client_address(request))]
    if is_valid_namespace(name):
        keys.append(throttle.user_key(name))
    async with services.db.read() as session:
        wait = await throttle.blocked_for(session, keys, now, bounds)
    if wait is not None:
        log.warning("login throttled for %r", name, extra={"user": name, "keys": keys})
        seconds = throttle.retry_after_header(wait)
        return login_page(
            pages,
            request,
            next_path=target,
            name=name,
            message=f"Too many failed logins: try again in {seconds} seconds.",
            status=429,
            headers={"Retry-After": seconds},
        )
    user_id: int | None = None
    if name and password and not password.startswith(accounts.TOKEN_PREFIX):
        try:
            user_id = await logins.check(
                services.db,
                services.settings.auth.ldap,
                name,
                password,
                now,
                registry_url=registry_url(services),
            )
        except DirectoryUnavailable as exc:
            log.error("login of %r: %s", name, exc, extra={"user": name})
            return login_page(
                pages,
                request,
                next_path=target,
                name=name,
                message="The directory (LDAP) cannot be reached, so directory users cannot "
                "log in now. Try again later, or ask an administrator.",
                status=503,
                headers={"Retry-After": DIRECTORY_RETRY},
            )
    user: User | None = None
    async with services.db.write() as session:
        if user_id is not None:
            user = await accounts.user_by_id(session, user_id)
        if user is None:
            await throttle.note_failure(session, keys, now, bounds)
        else:
            await throttle.clear(session, throttle.user_key(name))
    if user is None:
        log.warning("login failed for %r", name, extra={"user": name})
        return login_page(
            pages,
            request,
            next_path=target,
            name=name,
            message="Wrong user name or password.",
            status=401,
        )
    open_session(request, user)
    log.info("login of %r", name, extra={"user": name})
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    request.session.clear()
    return RedirectResponse("/login?out=1", status_code=303)
