"""Users, teams, members, namespaces and personal tokens over JSON.

Who may do what: admins everything; a team's owners manage its members and its namespaces
(:func:`~portside.accounts.policy.may_manage`, :func:`~portside.accounts.policy.may_manage_team`);
a user manages its own tokens; ``GET /api/v1/me`` answers anyone. A namespace a caller may
not read answers 404, as an unknown one does: its existence is not told. Answers never carry
a password hash or a token hash; a new token is in the POST's answer once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from portside.accounts import store
from portside.accounts.errors import AccountConflict, AccountNotFound
from portside.accounts.policy import Principal, may_manage, may_manage_team, may_read
from portside.accounts.vocabulary import Role
from portside.api.accounts_schemas import (
    MAX_NAME,
    MemberPublic,
    MemberSet,
    MembershipPublic,
    MePublic,
    NamespaceCreate,
    NamespacePublic,
    NamespaceUpdate,
    TeamCreate,
    TeamPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from portside.api.deps import ReadSession, ServicesDep
from portside.api.errors import NotConfigured
from portside.db.models import Namespace, PersonalToken, Team, User
from portside.index import store as index_store
from portside.web.access import (
    Admin,
    Forbidden,
    PrincipalDep,
    Reader,
    Unauthorized,
    keep_session,
)

router = APIRouter(prefix="/api/v1", tags=["accounts"])

NamePath = Annotated[str, Path(min_length=1, max_length=MAX_NAME)]


async def require_account(principal: PrincipalDep) -> Principal:
    if not principal.authenticated:
        raise Unauthorized(
            "this call needs a login: a personal token (Authorization: Bearer pst_...), "
            "a session, or an admin token"
        )
    return principal


Account = Annotated[Principal, Depends(require_account)]


def _now() -> datetime:
    return datetime.now(UTC)


# -- who am I ---------------------------------------------------------------------------------
@router.get("/me", response_model=MePublic)
async def me(principal: PrincipalDep, session: ReadSession) -> MePublic:
    """Who the request is: the user (null for an admin token or anonymous), whether it is an
    admin, and its teams with its role in each (personal teams are not listed)."""
    teams = [team for team in await store.teams(session) if team.id in principal.roles]
    return MePublic(
        name=principal.name,
        authenticated=principal.authenticated,
        admin=principal.admin,
        teams=[MembershipPublic(team=t.name, role=principal.roles[t.id]) for t in teams],
    )


# -- users (admins) ---------------------------------------------------------------------------
def _user(user: User) -> UserPublic:
    return UserPublic(
        name=user.name,
        email=user.email,
        admin=user.admin,
        bot=user.bot,
        enabled=user.enabled,
        has_password=user.password_hash is not None,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


@router.get("/users", response_model=list[UserPublic])
async def list_users(session: ReadSession, _: Admin) -> list[UserPublic]:
    return [_user(user) for user in await store.users(session)]


@router.post("/users", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, services: ServicesDep, _: Admin) -> UserPublic:
    """A user with its private personal namespace (of the same name, unless taken)."""
    url = services.registry.base_url if services.registry else services.settings.registry.url
    if not url:
        raise NotConfigured("registry.url is not set: a user's namespace needs the registry")
    now = _now()
    async with services.db.write() as session:
        registry_id = await index_store.ensure_registry(session, url, now)
        user = await store.add_user(
            session,
            body.name,
            now,
            registry_id=registry_id,
            password=body.password,
            admin=body.admin,
            bot=body.bot,
            email=body.email,
        )
        return _user(user)


@router.patch("/users/{name}", response_model=UserPublic)
async def update_user(
    name: NamePath, body: UserUpdate, request: Request, services: ServicesDep, _: Admin
) -> UserPublic:
    """Enable or disable a user, make it an admin or not, set its password (which ends the
    user's login sessions, but the caller's own)."""
    now = _now()
    async with services.db.write() as session:
        user = await store.require_user(session, name)
        if body.enabled is not None:
            user = await store.set_enabled(session, name, body.enabled, now)
        if body.admin is not None:
            user = await store.set_admin(session, name, body.admin, now)
        if body.password is not None:
            user = await store.set_password(session, name, body.password, now)
    if body.password is not None:
        keep_session(request, user)
    return _user(user)


# -- tokens (the user itself, or admins) ------------------------------------------------------
def _own(principal: Principal, name: str) -> None:
    if principal.admin or (principal.user_id is not None and principal.name == name):
        return
    raise Forbidden("only the user itself or an admin manages a user's tokens")


def _token(token: PersonalToken, now: datetime) -> TokenPublic:
    return TokenPublic(
        name=token.name,
        state=store.token_state(token, now),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


@router.get("/users/{name}/tokens", response_model=list[TokenPublic])
async def list_tokens(
    name: NamePath, session: ReadSession, principal: Account
) -> list[TokenPublic]:
    _own(principal, name)
    now = _now()
    return [_token(token, now) for token in await store.tokens_of(session, name)]


@router.post(
    "/users/{name}/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED
)
async def create_token(
    name: NamePath, body: TokenCreate, services: ServicesDep, principal: Account
) -> TokenCreated:
    """A personal token: the answer has it in ``token`` this once."""
    _own(principal, name)
    now = _now()
    async with services.db.write() as session:
        token, plain = await store.add_token(session, name, body.name, now, days=body.expires_days)
        return TokenCreated(**_token(token, now).model_dump(), token=plain)


@router.delete("/users/{name}/tokens/{token_name:path}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(
    name: NamePath, token_name: str, services: ServicesDep, principal: Account
) -> None:
    """Revoke the user's active token of that name: it stops working at once."""
    _own(principal, name)
    async with services.db.write() as session:
        await store.revoke_token(session, name, token_name, _now())


# -- teams ------------------------------------------------------------------------------------
async def _team(session: ReadSession, principal: Principal, name: str, *, manage: bool) -> Team:
    """The team, if the principal may see it (a member) or manage it (an owner); a team that
    does not exist is a 404 to admins only (others may not ask)."""
    team = await store.team_by_name(session, name)
    if team is None or team.hidden:
        if principal.admin:
            raise AccountNotFound(f"no team {name[:80]!r}")
        raise Forbidden("only the team's owners or an admin may do this")
    if manage and not may_manage_team(principal, team.id):
        raise Forbidden("only the team's owners or an admin may do this")
    if not manage and not (principal.admin or team.id in principal.roles):
        raise Forbidden("only the team's members or an admin may see its members")
    return team


async def _team_public(session: ReadSession, team: Team) -> TeamPublic:
    return TeamPublic(
        name=team.name,
        description=team.description,
        created_at=team.created_at,
        members=[
            MemberPublic(user=m.user, role=m.role) for m in await store.members(session, team.name)
        ],
    )


@router.get("/teams", response_model=list[TeamPublic])
async def list_teams(session: ReadSession, principal: Account) -> list[TeamPublic]:
    """Every team for an admin; a user's own teams otherwise."""
    return [
        await _team_public(session, team)
        for team in await store.teams(session)
        if principal.admin or team.id in principal.roles
    ]


@router.post("/teams", response_model=TeamPublic, status_code=status.HTTP_201_CREATED)
async def create_team(body: TeamCreate, services: ServicesDep, _: Admin) -> TeamPublic:
    async with services.db.write() as session:
        team = await store.add_team(
            session, body.name, body.owner, _now(), description=body.description
        )
        return await _team_public(session, team)


@router.get("/teams/{team}/members", response_model=list[MemberPublic])
async def list_members(
    team: NamePath, session: ReadSession, principal: Account
) -> list[MemberPublic]:
    found = await _team(session, principal, team, manage=False)
    return [
        MemberPublic(user=m.user, role=m.role) for m in await store.members(session, found.name)
    ]


@router.get("/teams/{team}/members/{user}", response_model=MemberPublic)
async def get_member(
    team: NamePath, user: NamePath, session: ReadSession, principal: Account
) -> MemberPublic:
    found = await _team(session, principal, team, manage=False)
    for member in await store.members(session, found.name):
        if member.user == user:
            return MemberPublic(user=member.user, role=member.role)
    raise AccountNotFound(f"{user[:80]!r} is not a member of {team[:80]!r}")


@router.put("/teams/{team}/members/{user}", response_model=MemberPublic)
async def set_member(
    team: NamePath, user: NamePath, body: MemberSet, services: ServicesDep, principal: Account
) -> MemberPublic:
    """Add the user to the team with this role, or change its role (a team keeps an owner)."""
    async with services.db.write() as session:
        found = await _team(session, principal, team, manage=True)
        member = await store.set_member(session, found.name, user, body.role, _now())
        return MemberPublic(user=user, role=Role(member.role))


@router.delete("/teams/{team}/members/{user}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    team: NamePath, user: NamePath, services: ServicesDep, principal: Account
) -> None:
    async with services.db.write() as session:
        found = await _team(session, principal, team, manage=True)
        await store.remove_member(session, found.name, user)


# -- namespaces -------------------------------------------------------------------------------
def _namespace(namespace: Namespace, team: str | None) -> NamespacePublic:
    personal = team is not None and team.startswith(store.personal_team_name(""))
    return NamespacePublic(
        name=namespace.name,
        team=team,
        personal=personal,
        visibility=namespace.visibility,
        description=namespace.description,
        created_at=namespace.created_at,
    )


@router.get("/namespaces", response_model=list[NamespacePublic], dependencies=Reader)
async def list_namespaces(session: ReadSession, principal: PrincipalDep) -> list[NamespacePublic]:
    """The namespaces the caller may see, with their team and visibility."""
    return [
        _namespace(namespace, team)
        for namespace, team in await store.namespaces(session)
        if may_read(principal, store.rule_of(namespace))
    ]


@router.post("/namespaces", response_model=NamespacePublic, status_code=status.HTTP_201_CREATED)
async def create_namespace(
    body: NamespaceCreate, services: ServicesDep, principal: Account
) -> NamespacePublic:
    """A namespace owned by a team (by an admin or the team's owners). An admin may hand a
    namespace the registry created on a push (owned by the admins) to a team this way."""
    url = services.registry.base_url if services.registry else services.settings.registry.url
    now = _now()
    async with services.db.write() as session:
        team = await _team(session, principal, body.team, manage=True)
        existing = await store.namespace_by_name(session, body.name)
        if existing is not None and not principal.admin:  # not the admins' namespaces
            raise AccountConflict(f"namespace {body.name!r} exists already")
        if existing is None and not url:
            raise NotConfigured("registry.url is not set: a namespace needs the registry")
        registry_id = (
            existing.registry_id
            if existing is not None
            else await index_store.ensure_registry(session, url or "", now)
        )
        namespace = await store.add_namespace(
            session,
            body.name,
            team.name,
            body.visibility,
            now,
            registry_id=registry_id,
            description=body.description,
        )
        return _namespace(namespace, team.name)


@router.patch("/namespaces/{name}", response_model=NamespacePublic)
async def update_namespace(
    name: NamePath, body: NamespaceUpdate, services: ServicesDep, principal: Account
) -> NamespacePublic:
    """Change a namespace's visibility, team or description (admins and the owning team's
    owners; handing it to another team also needs to be that team's owner)."""
    async with services.db.write() as session:
        rule = await store.namespace_rule(session, name)
        if not may_read(principal, rule):
            raise AccountNotFound(f"no namespace {name[:80]!r}")
        if not may_manage(principal, rule):
            raise Forbidden("only the namespace's team owners or an admin may change it")
        if body.team is not None:
            await _team(session, principal, body.team, manage=True)
        namespace = await store.set_namespace(
            session,
            name,
            visibility=body.visibility,
            team_name=body.team,
            description=body.description,
        )
        team = await store.team_of(session, namespace)
        return _namespace(namespace, team.name if team is not None else None)
