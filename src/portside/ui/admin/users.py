"""The administration pages of users: add, disable/enable, admin flag, reset a password,
their tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from portside.accounts import store as accounts
from portside.accounts.errors import AccountError, AccountNotFound, InvalidAccount
from portside.db.models import User as DbUser
from portside.index.store import registry_id as find_registry_id
from portside.ui.account import NewToken, status_of, token_action
from portside.ui.admin.forms import NOTICES, checked, done
from portside.ui.login import PagesDep
from portside.ui.render import Pages
from portside.ui.viewer import AdminUser, field, read_form
from portside.web import csrf
from portside.web.access import keep_session
from portside.web.deps import ServicesDep

router = APIRouter()


async def render_users(
    pages: Pages,
    services: ServicesDep,
    *,
    message: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    async with services.db.read() as session:
        users = await accounts.users(session)
    return pages.render(
        "admin_users.html",
        {
            "nav": "admin",
            "section": "users",
            "users": users,
            "message": message,
            "notice": notice,
        },
        status=status,
    )


@router.get("/users")
async def users_page(
    pages: PagesDep, services: ServicesDep, _: AdminUser, done: str | None = None
) -> Response:
    return await render_users(pages, services, notice=NOTICES.get(done or ""))


@router.post("/users")
async def add_user(
    request: Request, pages: PagesDep, services: ServicesDep, _: AdminUser
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    now = datetime.now(UTC)
    bot = checked(form, "bot")
    password = field(form, "password") or None
    try:
        if not bot and password is None:
            raise InvalidAccount("a user who is not a bot needs a password")
        async with services.db.write() as session:
            registry_id = await find_registry_id(session, services.settings.registry.url, now)
            await accounts.add_user(
                session,
                field(form, "name").strip(),
                now,
                registry_id=registry_id,
                password=password,
                admin=checked(form, "admin"),
                bot=bot,
            )
    except AccountError as exc:
        return await render_users(pages, services, message=str(exc), status=status_of(exc))
    return done("/admin/users", "added")


@router.post("/users/{name}")
async def change_user(
    name: str, request: Request, pages: PagesDep, services: ServicesDep, admin: AdminUser
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    action, now = field(form, "action"), datetime.now(UTC)
    reset: DbUser | None = None
    try:
        if name == admin.name and action in ("disable", "unadmin"):
            raise InvalidAccount("you cannot disable yourself or take your own admin flag")
        async with services.db.write() as session:
            if action in ("enable", "disable"):
                await accounts.set_enabled(session, name, action == "enable", now)
            elif action in ("admin", "unadmin"):
                user = await accounts.require_user(session, name)
                user.admin, user.updated_at = action == "admin", now
            elif action == "password":  # ends the user's sessions (an admin's own: not this)
                reset = await accounts.set_password(session, name, field(form, "password"), now)
            else:
                raise InvalidAccount(f"no such change {action[:40]!r}")
    except AccountError as exc:
        return await render_users(pages, services, message=str(exc), status=status_of(exc))
    if reset is not None:
        keep_session(request, reset)
    return done("/admin/users", "changed")


async def render_tokens(
    pages: Pages,
    services: ServicesDep,
    owner: str,
    *,
    message: str | None = None,
    notice: str | None = None,
    new_token: NewToken | None = None,
    status: int = 200,
) -> Response:
    async with services.db.read() as session:
        tokens = await accounts.tokens_of(session, owner)
    return pages.render(
        "admin_tokens.html",
        {
            "nav": "admin",
            "section": "users",
            "owner": owner,
            "tokens": tokens,
            "new_token": new_token,
            "message": message,
            "notice": notice,
        },
        status=status,
    )


@router.get("/users/{name}/tokens")
async def user_tokens(
    name: str, pages: PagesDep, services: ServicesDep, _: AdminUser, done: str | None = None
) -> Response:
    try:
        return await render_tokens(pages, services, name, notice=NOTICES.get(done or ""))
    except AccountNotFound as exc:
        return pages.render("error.html", {"title": "Not found", "message": str(exc)}, status=404)


@router.post("/users/{name}/tokens")
async def change_user_tokens(
    name: str, request: Request, pages: PagesDep, services: ServicesDep, _: AdminUser
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    outcome = await token_action(services, name, form)
    path = f"/admin/users/{name}/tokens"
    if isinstance(outcome, str):
        return done(path, outcome)
    try:
        if isinstance(outcome, NewToken):
            return await render_tokens(pages, services, name, new_token=outcome)
        return await render_tokens(
            pages, services, name, message=str(outcome), status=status_of(outcome)
        )
    except AccountNotFound as exc:
        return pages.render("error.html", {"title": "Not found", "message": str(exc)}, status=404)
