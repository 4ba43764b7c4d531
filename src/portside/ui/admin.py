"""The administration pages: users (add, disable/enable, admin flag, reset a password, their
tokens), teams and their members' roles, namespaces (visibility, team, description).
Administrators may do all of it; a team's owners manage that team's members and the
visibility and description of its namespaces (:func:`portside.accounts.policy.may_manage`).
Every form carries the session's CSRF token; a change answers 303 back to its page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from portside.accounts import store as accounts
from portside.accounts.errors import AccountError, AccountNotFound, InvalidAccount
from portside.accounts.policy import Principal, may_manage
from portside.accounts.vocabulary import Role, Visibility
from portside.db.models import Team
from portside.db.models import User as DbUser
from portside.index.store import registry_id as find_registry_id
from portside.ui.account import NewToken, status_of, token_action
from portside.ui.login import PagesDep
from portside.ui.render import Pages, query
from portside.ui.viewer import AdminUser, PageForbidden, User, field, read_form
from portside.web import csrf
from portside.web.access import keep_session
from portside.web.deps import ServicesDep

router = APIRouter(prefix="/admin", include_in_schema=False)

NOTICES = {
    "added": "Added.",
    "changed": "Changed.",
    "removed": "Removed.",
    "revoked": "The token was revoked: it no longer works.",
}
ROLES = [role.value for role in Role]
VISIBILITIES = [visibility.value for visibility in Visibility]
MAX_DESCRIPTION = 1000


def done(path: str, what: str) -> Response:
    return RedirectResponse(query(path, done=what), status_code=303)


def checked(form: dict[str, list[str]], name: str) -> bool:
    return field(form, name) == "1"


def description_of(form: dict[str, list[str]]) -> str:
    text = field(form, "description").strip()
    if len(text) > MAX_DESCRIPTION or not (text.isprintable() or not text):
        raise InvalidAccount(f"a description is at most {MAX_DESCRIPTION} printable characters")
    return text


def role_of(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise InvalidAccount(f"a role is one of {', '.join(ROLES)}") from None


def visibility_of(raw: str) -> Visibility:
    try:
        return Visibility(raw)
    except ValueError:
        raise InvalidAccount(f"a visibility is one of {', '.join(VISIBILITIES)}") from None


# -- users -------------------------------------------------------------------------------------
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


# -- teams -------------------------------------------------------------------------------------
def owns(principal: Principal, team: Team) -> bool:
    return principal.admin or principal.roles.get(team.id) is Role.OWNER


async def managed_team(session: AsyncSession, principal: Principal, name: str) -> Team:
    team = await accounts.require_team(session, name)
    if not owns(principal, team):
        raise PageForbidden("Only the team's owners and administrators manage a team.")
    return team


async def render_teams(
    pages: Pages,
    services: ServicesDep,
    principal: Principal,
    *,
    message: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    async with services.db.read() as session:
        teams = [team for team in await accounts.teams(session) if owns(principal, team)]
    return pages.render(
        "admin_teams.html",
        {
            "nav": "admin",
            "section": "teams",
            "teams": teams,
            "message": message,
            "notice": notice,
        },
        status=status,
    )


@router.get("/teams")
async def teams_page(
    pages: PagesDep, services: ServicesDep, user: User, done: str | None = None
) -> Response:
    return await render_teams(pages, services, user, notice=NOTICES.get(done or ""))


@router.post("/teams")
async def add_team(
    request: Request, pages: PagesDep, services: ServicesDep, admin: AdminUser
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    try:
        description = description_of(form)
        async with services.db.write() as session:
            await accounts.add_team(
                session,
                field(form, "name").strip(),
                field(form, "owner").strip(),
                datetime.now(UTC),
                description=description,
            )
    except AccountError as exc:
        return await render_teams(pages, services, admin, message=str(exc), status=status_of(exc))
    return done("/admin/teams", "added")


@dataclass(frozen=True)
class TeamNamespace:
    name: str
    visibility: str


async def render_team(
    pages: Pages,
    services: ServicesDep,
    principal: Principal,
    name: str,
    *,
    message: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    async with services.db.read() as session:
        team = await managed_team(session, principal, name)
        members = await accounts.members(session, name)
        owned = [
            TeamNamespace(namespace.name, namespace.visibility)
            for namespace, _ in await accounts.namespaces(session)
            if namespace.team_id == team.id
        ]
    return pages.render(
        "admin_team.html",
        {
            "nav": "admin",
            "section": "teams",
            "team": team,
            "members": members,
            "namespaces": owned,
            "roles": ROLES,
            "message": message,
            "notice": notice,
        },
        status=status,
    )


@router.get("/teams/{name}")
async def team_page(
    name: str, pages: PagesDep, services: ServicesDep, user: User, done: str | None = None
) -> Response:
    try:
        return await render_team(pages, services, user, name, notice=NOTICES.get(done or ""))
    except AccountNotFound as exc:
        return pages.render("error.html", {"title": "Not found", "message": str(exc)}, status=404)


@router.post("/teams/{name}")
async def change_team(
    name: str, request: Request, pages: PagesDep, services: ServicesDep, user: User
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    action, member = field(form, "action"), field(form, "user").strip()
    try:
        async with services.db.write() as session:
            await managed_team(session, user, name)
            if action == "set":
                role = role_of(field(form, "role"))
                await accounts.set_member(session, name, member, role, datetime.now(UTC))
            elif action == "remove":
                await accounts.remove_member(session, name, member)
            else:
                raise InvalidAccount(f"no such change {action[:40]!r}")
    except AccountError as exc:
        try:
            return await render_team(
                pages, services, user, name, message=str(exc), status=status_of(exc)
            )
        except AccountNotFound:
            return pages.render(
                "error.html", {"title": "Not found", "message": str(exc)}, status=404
            )
    return done(f"/admin/teams/{name}", "changed" if action == "set" else "removed")


# -- namespaces --------------------------------------------------------------------------------
@dataclass(frozen=True)
class NamespaceRow:
    name: str
    team: str | None  # None: the administrators
    visibility: str
    description: str

    @property
    def personal(self) -> bool:
        return self.team is not None and self.team.startswith("user:")

    @property
    def team_label(self) -> str:
        if self.team is None:
            return "(administrators)"
        return f"{self.team[5:]} (personal)" if self.personal else self.team


async def render_namespaces(
    pages: Pages,
    services: ServicesDep,
    principal: Principal,
    *,
    message: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    async with services.db.read() as session:
        rows = [
            NamespaceRow(namespace.name, team, namespace.visibility, namespace.description or "")
            for namespace, team in await accounts.namespaces(session)
            if may_manage(principal, accounts.rule_of(namespace))
        ]
        teams = [team.name for team in await accounts.teams(session)]
    return pages.render(
        "admin_namespaces.html",
        {
            "nav": "admin",
            "section": "namespaces",
            "rows": rows,
            "teams": teams,
            "visibilities": VISIBILITIES,
            "message": message,
            "notice": notice,
        },
        status=status,
    )


@router.get("/namespaces")
async def namespaces_page(
    pages: PagesDep, services: ServicesDep, user: User, done: str | None = None
) -> Response:
    return await render_namespaces(pages, services, user, notice=NOTICES.get(done or ""))


@router.post("/namespaces")
async def change_namespace(
    request: Request, pages: PagesDep, services: ServicesDep, user: User
) -> Response:
    form = await read_form(request)
    csrf.check_form(request, form)
    action, name, now = field(form, "action"), field(form, "namespace").strip(), datetime.now(UTC)
    team = field(form, "team").strip() or None
    try:
        visibility = visibility_of(field(form, "visibility"))
        description = description_of(form)
        async with services.db.write() as session:
            if action == "add":
                if not user.admin:
                    raise PageForbidden("Only administrators add namespaces.")
                registry_id = await find_registry_id(session, services.settings.registry.url, now)
                await accounts.add_namespace(
                    session,
                    name,
                    team or "",
                    visibility,
                    now,
                    registry_id=registry_id,
                    description=description,
                )
            elif action == "set":
                rule = await accounts.namespace_rule(session, name)
                if rule is None:
                    raise AccountNotFound(f"no namespace {name[:80]!r}")
                if not may_manage(user, rule):
                    raise PageForbidden("Only the namespace team's owners and administrators.")
                await accounts.set_namespace(
                    session,
                    name,
                    visibility=visibility,
                    team_name=team if user.admin else None,
                    description=description,
                )
            else:
                raise InvalidAccount(f"no such change {action[:40]!r}")
    except AccountError as exc:
        return await render_namespaces(
            pages, services, user, message=str(exc), status=status_of(exc)
        )
    return done("/admin/namespaces", "added" if action == "add" else "changed")
