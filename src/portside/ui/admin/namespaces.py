"""The administration pages of namespaces: visibility, team, description."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from portside.accounts import store as accounts
from portside.accounts.errors import AccountError, AccountNotFound, InvalidAccount
from portside.accounts.policy import Principal, may_manage
from portside.index.store import registry_id as find_registry_id
from portside.ui.account import status_of
from portside.ui.admin.forms import NOTICES, VISIBILITIES, description_of, done, visibility_of
from portside.ui.login import PagesDep
from portside.ui.render import Pages
from portside.ui.viewer import PageForbidden, User, field, read_form
from portside.web import csrf
from portside.web.deps import ServicesDep

router = APIRouter()


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
