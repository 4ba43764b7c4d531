"""Who may see, pull, push and delete in a namespace: pure decisions on a principal and a
namespace's rule (no I/O). Portus's model: a namespace belongs to one team and has a
visibility; a team's members are viewers (pull), contributors (pull, push) or owners
(contributors who also delete and manage); admins may do everything."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from portside.accounts.vocabulary import Action, Role, Visibility


@dataclass(frozen=True)
class Principal:
    """Who is asking. ``name`` None: anonymous."""

    name: str | None = None
    user_id: int | None = None
    admin: bool = False  # admin users, the API's admin tokens, Portside itself
    # Anonymous readers on a bind that trusts them (``api.anonymous_reads``): they see
    # everything in the pages and the API. Never grants anything at the token server.
    sees_all: bool = False
    # Portside's own registry client (the catalog, every repository).
    service: bool = False
    roles: Mapping[int, Role] = field(default_factory=dict)  # team id -> role

    @property
    def authenticated(self) -> bool:
        return self.name is not None or self.admin

    @property
    def reads_everything(self) -> bool:
        return self.admin or self.sees_all


ANONYMOUS = Principal()
EVERYONE = Principal(sees_all=True)
SERVICE = Principal(name="portside", admin=True, service=True)


@dataclass(frozen=True)
class NamespaceRule:
    name: str
    visibility: Visibility
    team_id: int | None  # None: the admins


def may_read(principal: Principal, rule: NamespaceRule | None) -> bool:
    """May see the namespace's repositories (and pull from them). An unknown namespace is
    private to the admins."""
    if principal.reads_everything:
        return True
    if rule is None:
        return False
    if rule.visibility is Visibility.PUBLIC:
        return True
    if rule.visibility is Visibility.PROTECTED and principal.authenticated:
        return True
    return rule.team_id is not None and rule.team_id in principal.roles


def role_in(principal: Principal, rule: NamespaceRule | None) -> Role | None:
    if rule is None or rule.team_id is None:
        return None
    return principal.roles.get(rule.team_id)


def allowed_actions(principal: Principal, rule: NamespaceRule | None) -> frozenset[Action]:
    """Every action the principal may take on the namespace's repositories (token server)."""
    if principal.admin:
        return frozenset(Action)
    allowed: set[Action] = set()
    readable = rule is not None and (
        rule.visibility is Visibility.PUBLIC
        or (rule.visibility is Visibility.PROTECTED and principal.authenticated)
    )
    role = role_in(principal, rule)
    if readable or role is not None:
        allowed.add(Action.PULL)
    if role in (Role.CONTRIBUTOR, Role.OWNER):
        allowed.add(Action.PUSH)
    if role is Role.OWNER:
        allowed.add(Action.DELETE)
    return frozenset(allowed)


def grant(principal: Principal, rule: NamespaceRule | None, requested: Iterable[str]) -> list[str]:
    """The requested actions (``*`` meaning all) that are allowed, in a stable order; the
    token server puts these in the token's ``access`` claim."""
    allowed = allowed_actions(principal, rule)
    wanted = set(requested)
    if "*" in wanted:
        wanted |= {action.value for action in Action}
        wanted.discard("*")
    return [action.value for action in Action if action in allowed and action.value in wanted]


def may_manage(principal: Principal, rule: NamespaceRule | None) -> bool:
    """May change the namespace (visibility, description): admins and the team's owners."""
    return principal.admin or role_in(principal, rule) is Role.OWNER


def may_use_catalog(principal: Principal) -> bool:
    """``registry:catalog:*``: admins and Portside's own service account only."""
    return principal.admin


def may_manage_team(principal: Principal, team_id: int) -> bool:
    """May change the team's members and give it namespaces: admins and the team's owners."""
    return principal.admin or principal.roles.get(team_id) is Role.OWNER
