"""What an import of Portus brings (pure): given the Portus rows and what Portside has, each
row's step (create, update, unchanged, skipped or not brought) and why.

A second run over the same rows plans nothing: every row is then unchanged (or skipped for the
same reasons). Portus is the source while moving: a user, team, namespace or webhook that
exists in Portside already is updated to Portus's values, except a user's password, which is
set only when the user is created (Portside may have upgraded the hash since)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from portside.accounts.store import personal_team_name
from portside.accounts.vocabulary import Role, Visibility
from portside.portus.read import PortusData, PortusNamespace, PortusTeam, PortusUser

INTERNAL = "portus"  # Portus's own user and namespace: never brought
WEBHOOK_KINDS = ("push",)  # Portus called its webhooks on pushes


class Outcome(StrEnum):
    CREATE = "created"
    UPDATE = "updated"
    UNCHANGED = "unchanged"
    SKIP = "skipped"
    REFUSE = "not brought"


KINDS = ("user", "team", "member", "namespace", "token", "webhook", "tag author")


# -- the wanted state, per kind ----------------------------------------------------------------
@dataclass(frozen=True)
class UserWant:
    name: str
    email: str | None
    admin: bool
    enabled: bool
    bot: bool
    ldap_name: str | None
    display_name: str | None
    password_hash: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TeamWant:
    name: str
    description: str
    owner: str


@dataclass(frozen=True)
class MemberWant:
    team: str
    user: str
    role: Role


@dataclass(frozen=True)
class NamespaceWant:
    name: str
    team: str | None  # None: the admins
    visibility: Visibility
    description: str


@dataclass(frozen=True)
class TokenWant:
    user: str
    name: str
    token_hash: str
    salt: str


@dataclass(frozen=True)
class WebhookWant:
    name: str
    url: str
    namespaces: str
    method: str
    content_type: str
    username: str | None
    password: str | None = field(repr=False)
    headers: tuple[tuple[str, str], ...]
    enabled: bool


@dataclass(frozen=True)
class AuthorWant:
    repository: str
    tag: str
    author: str


Want = UserWant | TeamWant | MemberWant | NamespaceWant | TokenWant | WebhookWant | AuthorWant


@dataclass(frozen=True)
class Step:
    kind: str
    key: str
    outcome: Outcome
    reason: str = ""
    want: Want | None = None
    changes: tuple[str, ...] = ()


# -- what Portside has -------------------------------------------------------------------------
@dataclass
class Existing:
    users: dict[str, UserWant] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)  # visible team -> description
    members: dict[tuple[str, str], Role] = field(default_factory=dict)  # (team, user) -> role
    namespaces: dict[str, NamespaceWant] = field(default_factory=dict)
    token_hashes: set[str] = field(default_factory=set)
    token_names: set[tuple[str, str]] = field(default_factory=set)  # active (user, name)
    webhooks: dict[str, WebhookWant] = field(default_factory=dict)
    authors: dict[tuple[str, str], str | None] = field(default_factory=dict)  # indexed tags


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def of(self, outcome: Outcome) -> list[Step]:
        return [step for step in self.steps if step.outcome is outcome]

    @property
    def changes_anything(self) -> bool:
        return any(s.outcome in (Outcome.CREATE, Outcome.UPDATE) for s in self.steps)

    @property
    def complete(self) -> bool:
        """Whether every row could be brought (deliberate skips aside)."""
        return not self.of(Outcome.REFUSE)

    def counts(self) -> dict[str, Counter[Outcome]]:
        counts: dict[str, Counter[Outcome]] = {kind: Counter() for kind in KINDS}
        for step in self.steps:
            counts[step.kind][step.outcome] += 1
        return counts


def _differences(want: object, has: object, fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in fields if getattr(want, name) != getattr(has, name))


def _compare(kind: str, key: str, want: Want, has: Want | None, fields: tuple[str, ...]) -> Step:
    if has is None:
        return Step(kind, key, Outcome.CREATE, want=want)
    changes = _differences(want, has, fields)
    if changes:
        return Step(kind, key, Outcome.UPDATE, want=want, changes=changes)
    return Step(kind, key, Outcome.UNCHANGED, want=want)


# -- the plan ----------------------------------------------------------------------------------
@dataclass
class _Context:
    data: PortusData
    existing: Existing
    users: dict[int, PortusUser] = field(default_factory=dict)  # brought, by Portus id
    teams: dict[int, str | None] = field(default_factory=dict)  # Portus team id -> Portside's
    personal: dict[int, PortusUser] = field(default_factory=dict)  # hidden team id -> user
    namespaces: dict[int, str] = field(default_factory=dict)  # brought, by Portus id


def plan(data: PortusData, existing: Existing) -> Plan:
    """Every row's step, in the order they must be applied."""
    result = Plan()
    for refused in data.refused:
        result.steps.append(
            Step(
                refused.kind if refused.kind in KINDS else "webhook",
                refused.key,
                Outcome.REFUSE,
                refused.reason,
            )
        )
    context = _Context(data, existing)
    result.steps += _users(context)
    result.steps += _teams(context)
    result.steps += _members(context)
    result.steps += _namespaces(context)
    result.steps += _tokens(context)
    result.steps += _webhooks(context)
    result.steps += _authors(context)
    return result


USER_FIELDS = ("email", "admin", "enabled", "bot", "ldap_name", "display_name")


def _users(context: _Context) -> list[Step]:
    steps = []
    for user in context.data.users:
        if user.name == INTERNAL:
            steps.append(Step("user", user.name, Outcome.SKIP, "Portus's internal user"))
            continue
        want = UserWant(
            name=user.name,
            email=user.email,
            admin=user.admin,
            enabled=user.enabled,
            bot=user.bot,
            ldap_name=user.ldap_name,
            display_name=user.display_name,
            password_hash=None if user.bot else user.password_hash,
        )
        context.users[user.id] = user
        steps.append(
            _compare("user", user.name, want, context.existing.users.get(user.name), USER_FIELDS)
        )
    return steps


def _owner(context: _Context, team: PortusTeam) -> str | None:
    for member in context.data.members:
        if member.team_id == team.id and member.role is Role.OWNER:
            user = context.users.get(member.user_id)
            if user is not None:
                return user.name
    return None


def _left_behind(context: _Context, team: PortusTeam) -> bool:
    """Whether a hidden team is the personal team of a user not brought (its members are
    all users that were refused): its namespace is not brought either."""
    internal = {user.id for user in context.data.users if user.name == INTERNAL}
    members = {m.user_id for m in context.data.members if m.team_id == team.id}
    return bool(members) and not members & (set(context.users) | internal)


def _teams(context: _Context) -> list[Step]:
    namespaces = {ns.id: ns for ns in context.data.namespaces}
    for user in context.users.values():
        personal = namespaces.get(user.namespace_id) if user.namespace_id else None
        if personal is not None and personal.team_id is not None:
            context.personal[personal.team_id] = user
    steps = []
    for team in context.data.teams:
        if team.hidden:
            person = context.personal.get(team.id)
            if person is not None:
                context.teams[team.id] = personal_team_name(person.name)
                reason = "a user's personal team (Portside keeps it as user:NAME)"
            elif _left_behind(context, team):
                reason = "the personal team of a user not brought"
            else:
                context.teams[team.id] = None
                reason = "a hidden team of Portus's own: its namespaces go to Portside's admins"
            steps.append(Step("team", team.name, Outcome.SKIP, reason))
            continue
        owner = _owner(context, team)
        if owner is None:
            steps.append(
                Step(
                    "team",
                    team.name,
                    Outcome.REFUSE,
                    "no owner among the users brought (a Portside team needs one)",
                )
            )
            continue
        context.teams[team.id] = team.name
        want = TeamWant(team.name, team.description, owner)
        has = context.existing.teams.get(team.name)
        if has is None:
            steps.append(Step("team", team.name, Outcome.CREATE, want=want))
        elif has != team.description:
            steps.append(
                Step("team", team.name, Outcome.UPDATE, want=want, changes=("description",))
            )
        else:
            steps.append(Step("team", team.name, Outcome.UNCHANGED, want=want))
    return steps


def _members(context: _Context) -> list[Step]:
    hidden = {team.id for team in context.data.teams if team.hidden}
    users = {user.id: user.name for user in context.data.users}
    steps = []
    for member in context.data.members:
        if member.team_id in hidden:
            continue  # personal teams come with their users; Portus's own go to the admins
        key = f"{users.get(member.user_id, f'#{member.user_id}')} in team #{member.team_id}"
        team = context.teams.get(member.team_id)
        user = context.users.get(member.user_id)
        if users.get(member.user_id) == INTERNAL:
            steps.append(Step("member", key, Outcome.SKIP, "Portus's internal user"))
            continue
        if team is None or user is None:
            what = "team" if team is None else "user"
            steps.append(Step("member", key, Outcome.REFUSE, f"its {what} was not brought"))
            continue
        key = f"{user.name} in {team}"
        want = MemberWant(team, user.name, member.role)
        has = context.existing.members.get((team, user.name))
        if has is None:
            steps.append(Step("member", key, Outcome.CREATE, want=want))
        elif has is not member.role:
            steps.append(Step("member", key, Outcome.UPDATE, want=want, changes=("role",)))
        else:
            steps.append(Step("member", key, Outcome.UNCHANGED, want=want))
    return steps


def _namespace_team(context: _Context, namespace: PortusNamespace) -> tuple[bool, str | None]:
    """(known, Portside team name or None for the admins)."""
    if namespace.team_id is None:
        return True, None
    if namespace.team_id not in context.teams:
        return False, None
    return True, context.teams[namespace.team_id]


def _namespaces(context: _Context) -> list[Step]:
    existing = dict(context.existing.namespaces)
    for user in context.users.values():  # add_user makes the personal namespace
        if user.name not in context.existing.users and user.name not in existing:
            existing[user.name] = NamespaceWant(
                user.name, personal_team_name(user.name), Visibility.PRIVATE, ""
            )
    steps = []
    for namespace in context.data.namespaces:
        if namespace.is_global:
            steps.append(
                Step(
                    "namespace",
                    "(global)",
                    Outcome.SKIP,
                    "Portside's global namespace is always public and has no team",
                )
            )
            continue
        if namespace.name == INTERNAL:
            steps.append(Step("namespace", namespace.name, Outcome.SKIP, "Portus's own namespace"))
            continue
        known, team = _namespace_team(context, namespace)
        if not known:
            steps.append(
                Step("namespace", namespace.name, Outcome.REFUSE, "its team was not brought")
            )
            continue
        has = existing.get(namespace.name)
        if team is None and has is not None and has.team is not None:
            team = has.team  # Portside cannot hand a team's namespace back to the admins
        want = NamespaceWant(namespace.name, team, namespace.visibility, namespace.description)
        context.namespaces[namespace.id] = namespace.name
        steps.append(
            _compare("namespace", namespace.name, want, has, ("team", "visibility", "description"))
        )
    return steps


def _tokens(context: _Context) -> list[Step]:
    steps = []
    names = set(context.existing.token_names)
    for token in context.data.tokens:
        user = context.users.get(token.user_id)
        key = f"{user.name if user else f'user #{token.user_id}'}: {token.application}"
        if user is None:
            steps.append(Step("token", key, Outcome.REFUSE, "its user was not brought"))
            continue
        want = TokenWant(user.name, token.application, token.token_hash, token.salt)
        if token.token_hash in context.existing.token_hashes:
            steps.append(Step("token", key, Outcome.UNCHANGED, want=want))
        elif (user.name, token.application) in names:
            steps.append(
                Step(
                    "token",
                    key,
                    Outcome.REFUSE,
                    f"{user.name} has an active token named {token.application!r} already",
                )
            )
        else:
            names.add((user.name, token.application))
            steps.append(Step("token", key, Outcome.CREATE, want=want))
    return steps


WEBHOOK_FIELDS = (
    "url",
    "namespaces",
    "method",
    "content_type",
    "username",
    "password",
    "headers",
    "enabled",
)


def webhook_name(namespace: str, name: str) -> str:
    return f"portus/{namespace or '(global)'}/{name}"[:255]


def _webhooks(context: _Context) -> list[Step]:
    namespaces = {ns.id: ns for ns in context.data.namespaces}
    steps = []
    for hook in context.data.webhooks:
        namespace = namespaces.get(hook.namespace_id)
        if namespace is not None and namespace.is_global:
            target: str | None = ""
        else:
            target = context.namespaces.get(hook.namespace_id)
        if target is None:
            steps.append(
                Step(
                    "webhook",
                    f"webhook #{hook.id} {hook.name}",
                    Outcome.REFUSE,
                    "its namespace was not brought",
                )
            )
            continue
        want = WebhookWant(
            name=webhook_name(target, hook.name),
            url=hook.url,
            namespaces=target,
            method=hook.method,
            content_type=hook.content_type,
            username=hook.username,
            password=hook.password,
            headers=tuple(sorted(hook.headers.items())),
            enabled=hook.enabled,
        )
        steps.append(
            _compare(
                "webhook",
                want.name,
                want,
                context.existing.webhooks.get(want.name),
                WEBHOOK_FIELDS,
            )
        )
    return steps


NOT_INDEXED = "not indexed yet: run import-portus again after `portside sync`"


def _authors(context: _Context) -> list[Step]:
    steps = []
    for pusher in context.data.pushers:
        key = f"{pusher.repository}:{pusher.tag}"
        want = AuthorWant(pusher.repository, pusher.tag, pusher.author)
        place = (pusher.repository, pusher.tag)
        if place not in context.existing.authors:
            steps.append(Step("tag author", key, Outcome.SKIP, NOT_INDEXED))
        elif context.existing.authors[place] is None:
            steps.append(Step("tag author", key, Outcome.UPDATE, want=want, changes=("author",)))
        else:
            steps.append(Step("tag author", key, Outcome.UNCHANGED, want=want))
    return steps
