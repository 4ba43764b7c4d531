"""The administration pages of teams and their members' roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from portside.accounts import store as accounts
from portside.accounts.errors import AccountError, AccountNotFound, InvalidAccount
from portside.accounts.policy import Principal
from portside.accounts.vocabulary import Role
from portside.db.models import Team
from portside.ui.account import status_of
from portside.ui.admin.forms import NOTICES, ROLES, description_of, done, role_of
from portside.ui.login import PagesDep
from portside.ui.render import Pages
from portside.ui.viewer import AdminUser, PageForbidden, User, field, read_form
from portside.web import csrf
from portside.web.deps import ServicesDep

router = APIRouter()


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
