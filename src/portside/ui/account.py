"""My account (``/account``): my teams and roles, my personal tokens (a new one is shown
once, then only its name), revoking them, changing my password (wrong current passwords
count against the user's login throttle), logging out my other sessions. A password change
and "log out everywhere" end every other login session of the user, this one stays
(:func:`portside.accounts.store.end_sessions`). Every form carries the session's CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from portside.accounts import passwords, throttle
from portside.accounts import store as accounts
from portside.accounts.errors import AccountError, AccountNotFound
from portside.accounts.policy import Principal
from portside.db.models import User as DbUser
from portside.ui.login import PagesDep
from portside.ui.render import Pages, query
from portside.ui.viewer import User, field, read_form
from portside.web import csrf
from portside.web.access import keep_session
from portside.web.deps import ServicesDep

router = APIRouter(include_in_schema=False)

NOTICES = {
    "revoked": "The token was revoked: it no longer works.",
    "password": "Your password was changed. Your other sessions were logged out.",
    "sessions": "Your other sessions were logged out.",
}


@dataclass(frozen=True)
class NewToken:
    name: str
    plain: str


def status_of(exc: AccountError) -> int:
    return 404 if isinstance(exc, AccountNotFound) else 400


def days_of(raw: str) -> int | None:
    """The form's "expires in days" (empty: never); refused by the store when out of range."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 6:
        return 0  # out of range: the store explains the limits
    return int(raw)


async def team_roles(session: AsyncSession, principal: Principal) -> list[tuple[str, str]]:
    """The visible teams the user is in, by name, with the user's role in each."""
    return [
        (team.name, principal.roles[team.id].value)
        for team in await accounts.teams(session)
        if team.id in principal.roles
    ]


async def render_account(
    pages: Pages,
    session: AsyncSession,
    principal: Principal,
    *,
    message: str | None = None,
    notice: str | None = None,
    new_token: NewToken | None = None,
    status: int = 200,
) -> Response:
    assert principal.name is not None
    user = await accounts.require_user(session, principal.name)
    return pages.render(
        "account.html",
        {
            "nav": "account",
            "user": user,
            "teams": await team_roles(session, principal),
            "tokens": await accounts.tokens_of(session, principal.name),
            "new_token": new_token,
            "message": message,
            "notice": notice,
        },
        status=status,
    )


@router.get("/account")
async def account(
    pages: PagesDep, services: ServicesDep, user: User, done: str | None = None
) -> Response:
    async with services.db.read() as session:
        return await render_account(pages, session, user, notice=NOTICES.get(done or ""))


async def token_action(
    services: ServicesDep, owner: str, form: dict[str, list[str]]
) -> NewToken | str | AccountError:
    """Create or revoke one of ``owner``'s tokens: the new token, the notice key, or why not."""
    action, name = field(form, "action"), field(form, "name").strip()
    now = datetime.now(UTC)
    try:
        async with services.db.write() as session:
            if action == "create":
                _, plain = await accounts.add_token(
                    session, owner, name, now, days=days_of(field(form, "days"))
                )
                return NewToken(name=name, plain=plain)
            if action == "revoke":
                await accounts.revoke_token(session, owner, name, now)
                return "revoked"
    except AccountError as exc:
        return exc
    return AccountNotFound(f"no such action {action[:40]!r}")


@router.post("/account/tokens")
async def my_tokens(
    request: Request, pages: PagesDep, services: ServicesDep, user: User
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    assert user.name is not None
    outcome = await token_action(services, user.name, form)
    if isinstance(outcome, str):
        return RedirectResponse(query("/account", done=outcome), status_code=303)
    async with services.db.read() as session:
        if isinstance(outcome, NewToken):
            return await render_account(pages, session, user, new_token=outcome)
        return await render_account(
            pages, session, user, message=str(outcome), status=status_of(outcome)
        )


@router.post("/account/password")
async def my_password(
    request: Request, pages: PagesDep, services: ServicesDep, user: User
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    assert user.name is not None
    new, again = field(form, "password"), field(form, "again")
    message: str | None = None
    changed: DbUser | None = None
    now, bounds, keys = (
        datetime.now(UTC),
        throttle.Limits.of(services.settings.auth.session),
        [throttle.user_key(user.name)],
    )
    try:
        async with services.db.write() as session:
            found = await accounts.require_user(session, user.name)
            wait = await throttle.blocked_for(session, keys, now, bounds)
            ok = wait is None and passwords.verify(field(form, "current"), found.password_hash)[0]
            if wait is not None:
                message = "Too many wrong passwords: try again later."
            elif not ok:
                await throttle.note_failure(session, keys, now, bounds)
                message = "The current password is wrong: nothing was changed."
            elif new != again:
                message = "The two new passwords differ: nothing was changed."
            else:
                changed = await accounts.set_password(session, user.name, new, now)
    except AccountError as exc:
        message = str(exc)
    if message is None and changed is not None:
        keep_session(request, changed)  # the other sessions are logged out, not this one
        return RedirectResponse(query("/account", done="password"), status_code=303)
    async with services.db.read() as session:
        return await render_account(pages, session, user, message=message, status=400)


@router.post("/account/sessions")
async def log_out_everywhere(request: Request, services: ServicesDep, user: User) -> Response:
    """End every other login session of mine (this one stays); my tokens keep working."""
    form = await read_form(request)
    csrf.check_form(request, form)
    assert user.name is not None
    async with services.db.write() as session:
        changed = await accounts.end_sessions_of(session, user.name, datetime.now(UTC))
    keep_session(request, changed)
    return RedirectResponse(query("/account", done="sessions"), status_code=303)
