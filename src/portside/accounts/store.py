"""Users, teams, members, namespaces and personal tokens in the database: the one module with
the accounts' SQL. Names are checked here, where they enter; callers pass the write session
and "now"."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts import passwords
from portside.accounts.errors import AccountConflict, AccountNotFound, InvalidAccount
from portside.accounts.policy import NamespaceRule, Principal
from portside.accounts.vocabulary import Role, Visibility
from portside.db.models import Namespace, PersonalToken, Team, TeamMember, User
from portside.errors import InvalidName
from portside.index.names import GLOBAL_NAMESPACE, check_namespace, is_valid_namespace

_log = logging.getLogger(__name__)

# User names follow the namespace grammar, since each user gets a namespace of that name.
MAX_NAME = 255
TEAM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,254}")
TOKEN_PREFIX = "pst_"  # noqa: S105 (a prefix, not a secret)
MAX_TOKEN = 512
MIN_PASSWORD = 8
MAX_TOKEN_DAYS = 3650
MAX_DESCRIPTION = 1024
PORTUS_SCHEME = "portus-bcrypt"  # a personal token imported from Portus (bcrypt with a salt)
MAX_PORTUS_TOKENS = 16  # bcrypt-checked per login at most (Portus users have a handful)


# -- names ------------------------------------------------------------------------------------
def check_user_name(name: str) -> str:
    if not is_valid_namespace(name):
        raise InvalidAccount(
            f"{name[:80]!r} is not a valid user name (lower-case letters and digits joined by "
            ". _ -, at most 255 characters: it is also the user's namespace)"
        )
    return name


def check_team_name(name: str) -> str:
    if TEAM_NAME.fullmatch(name) is None or name != name.strip():
        raise InvalidAccount(
            f"{name[:80]!r} is not a valid team name (letters, digits, space . _ -, "
            "at most 255 characters)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidAccount(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password.encode()) > passwords.MAX_PASSWORD:
        raise InvalidAccount(f"a password has at most {passwords.MAX_PASSWORD} bytes")
    return password


def check_description(description: str) -> str:
    """A namespace's or team's description: at most 1024 characters, no control characters
    but newlines and tabs (it is shown in terminals and pages)."""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidAccount(f"a description has at most {MAX_DESCRIPTION} characters")
    if any(not char.isprintable() and char not in "\n\t" for char in description):
        raise InvalidAccount("a description must not contain control characters")
    return description


def _findable(name: str) -> bool:
    """Whether a name could be stored at all: a lookup of one that could not (NUL, a lone
    surrogate, too long) finds nothing without asking the database, which would refuse it."""
    if len(name) > MAX_NAME or "\x00" in name:
        return False
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def personal_team_name(user: str) -> str:
    """The hidden team that owns a user's personal namespace (a name no one can type as a
    team name, since team names do not contain ":")."""
    return f"user:{user}"


# -- users ------------------------------------------------------------------------------------
async def user_by_name(session: AsyncSession, name: str) -> User | None:
    if not _findable(name):
        return None
    return await session.scalar(select(User).where(User.name == name))


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def require_user(session: AsyncSession, name: str) -> User:
    user = await user_by_name(session, name)
    if user is None:
        raise AccountNotFound(f"no user {name[:80]!r}")
    return user


async def users(session: AsyncSession) -> list[User]:
    return list((await session.scalars(select(User).order_by(User.name))).all())


async def add_user(
    session: AsyncSession,
    name: str,
    now: datetime,
    *,
    registry_id: int,
    password: str | None = None,
    admin: bool = False,
    bot: bool = False,
    email: str | None = None,
) -> User:
    """A user, with a personal namespace of the same name owned by a hidden team of which
    the user is the owner (unless that namespace is taken already). Bots have no password."""
    check_user_name(name)
    if bot and password is not None:
        raise InvalidAccount("a bot has no password: give it a personal token")
    if password is not None:
        check_password(password)
    if await user_by_name(session, name) is not None:
        raise AccountConflict(f"user {name!r} exists already")
    user = User(
        name=name,
        email=email,
        password_hash=passwords.hash_password(password) if password is not None else None,
        admin=admin,
        enabled=True,
        bot=bot,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    await session.flush()
    if await namespace_by_name(session, name) is None:
        team = Team(name=personal_team_name(name), hidden=True, created_at=now)
        session.add(team)
        await session.flush()
        session.add(TeamMember(team_id=team.id, user_id=user.id, role=Role.OWNER, created_at=now))
        session.add(
            Namespace(
                registry_id=registry_id,
                name=name,
                team_id=team.id,
                visibility=Visibility.PRIVATE,
                description="",
                created_at=now,
            )
        )
        await session.flush()
    return user


async def set_enabled(session: AsyncSession, name: str, enabled: bool, now: datetime) -> User:
    user = await require_user(session, name)
    user.enabled = enabled
    user.updated_at = now
    return user


async def set_admin(session: AsyncSession, name: str, admin: bool, now: datetime) -> User:
    user = await require_user(session, name)
    user.admin = admin
    user.updated_at = now
    return user


async def set_password(session: AsyncSession, name: str, password: str, now: datetime) -> User:
    """A new password; every login session of the user ends (:func:`end_sessions`)."""
    user = await require_user(session, name)
    if user.bot:
        raise InvalidAccount("a bot has no password: give it a personal token")
    user.password_hash = passwords.hash_password(check_password(password))
    end_sessions(user, now)
    return user


def end_sessions(user: User, now: datetime) -> None:
    """End every login session of the user: each holds the generation it was opened with,
    and one that differs from the user's is logged out. Personal tokens are not touched (they
    are revoked one by one). The session making the change keeps itself by taking the new
    generation (:func:`portside.web.access.keep_session`)."""
    user.session_generation = (user.session_generation or 0) + 1
    user.updated_at = now


async def end_sessions_of(session: AsyncSession, name: str, now: datetime) -> User:
    user = await require_user(session, name)
    end_sessions(user, now)
    return user


async def principal_for(session: AsyncSession, user: User) -> Principal:
    """The user as a principal, with the roles of all its teams."""
    rows = await session.execute(
        select(TeamMember.team_id, TeamMember.role).where(TeamMember.user_id == user.id)
    )
    return Principal(
        name=user.name,
        user_id=user.id,
        admin=user.admin,
        roles={team_id: Role(role) for team_id, role in rows},
    )


# -- credentials ------------------------------------------------------------------------------
def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def authenticate(
    session: AsyncSession, name: str, secret: str, now: datetime, *, tokens_only: bool = False
) -> User | None:
    """The enabled user whose password or unexpired, unrevoked personal token ``secret``
    is, else None. A password hash of an older scheme is replaced; a token's last use is
    noted. Bots and ``tokens_only`` callers log in with personal tokens only. Takes about
    as long for an unknown user as for a wrong password."""
    if len(name) > MAX_NAME or len(secret.encode()) > max(MAX_TOKEN, passwords.MAX_PASSWORD):
        return None
    user = await user_by_name(session, name)
    if secret.startswith(TOKEN_PREFIX):
        owner = await user_for_token(session, secret, now)
        return owner if owner is not None and user is not None and owner.id == user.id else None
    if user is None or not user.enabled:
        passwords.verify(secret, None)
        return None
    if not (tokens_only or user.bot):
        ok, updated = passwords.verify(secret, user.password_hash)
        if ok:
            if updated is not None:
                user.password_hash = updated
            user.last_login_at = now
            return user
    # A secret without Portside's prefix may be an application token imported from Portus.
    return user if await _portus_token(session, user, secret, now) else None


async def _portus_token(session: AsyncSession, user: User, secret: str, now: datetime) -> bool:
    """Whether ``secret`` is one of the user's unrevoked, unexpired Portus application tokens
    (Portus kept bcrypt(token, per-token salt); a user has at most a handful). Its last use is
    noted."""
    found = await session.scalars(
        select(PersonalToken).where(
            PersonalToken.user_id == user.id,
            PersonalToken.scheme == PORTUS_SCHEME,
            PersonalToken.revoked_at.is_(None),
        )
    )
    for token in found.all()[:MAX_PORTUS_TOKENS]:
        if token.expires_at is not None and now >= token.expires_at:
            continue
        if passwords.portus_token_matches(secret, token.salt, token.token_hash):
            token.last_used_at = now
            return True
    return False


async def user_for_token(session: AsyncSession, token: str, now: datetime) -> User | None:
    """The enabled user whose unexpired, unrevoked personal token this is (its last use
    noted in the session), else None."""
    found = await token_owner(session, token, now)
    if found is None:
        return None
    found[0].last_used_at = now
    return found[1]


# A token's last use is written at most this often by the API (a read needs no write).
USE_NOTED_EVERY = timedelta(minutes=1)


async def token_owner(
    session: AsyncSession, token: str, now: datetime
) -> tuple[PersonalToken, User] | None:
    """The token's row and its enabled owner, when the token is unexpired and unrevoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN:
        return None
    row = (
        await session.execute(
            select(PersonalToken, User)
            .join(User, User.id == PersonalToken.user_id)
            .where(PersonalToken.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        return None
    found, user = row
    if not user.enabled or found.revoked_at is not None:
        return None
    if found.expires_at is not None and now >= found.expires_at:
        return None
    return found, user


def use_to_note(token: PersonalToken, now: datetime) -> bool:
    return token.last_used_at is None or now - token.last_used_at >= USE_NOTED_EVERY


async def note_token_use(session: AsyncSession, token_id: int, now: datetime) -> None:
    await session.execute(
        update(PersonalToken).where(PersonalToken.id == token_id).values(last_used_at=now)
    )


async def add_token(
    session: AsyncSession, user_name: str, name: str, now: datetime, *, days: int | None = None
) -> tuple[PersonalToken, str]:
    """A personal token; the plain token is returned once and never stored."""
    user = await require_user(session, user_name)
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidAccount("a token's name is 1 to 255 printable characters")
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise InvalidAccount(f"a token expires in 1 to {MAX_TOKEN_DAYS} days")
    active = await session.scalar(
        select(func.count())
        .select_from(PersonalToken)
        .where(
            PersonalToken.user_id == user.id,
            PersonalToken.name == name,
            PersonalToken.revoked_at.is_(None),
        )
    )
    if active:
        raise AccountConflict(f"{user_name!r} has a token named {name!r} already")
    plain = new_token()
    token = PersonalToken(
        user_id=user.id,
        name=name,
        token_hash=token_hash(plain),
        created_at=now,
        expires_at=now + timedelta(days=days) if days is not None else None,
    )
    session.add(token)
    await session.flush()
    return token, plain


async def add_portus_token(
    session: AsyncSession, user_name: str, name: str, hashed: str, salt: str, now: datetime
) -> PersonalToken:
    """A Portus application token as Portus kept it (bcrypt of the token with its salt):
    the user logs in with the token Portus gave her, without ``pst_``."""
    user = await require_user(session, user_name)
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidAccount("a token's name is 1 to 255 printable characters")
    token = PersonalToken(
        user_id=user.id,
        name=name,
        token_hash=hashed,
        salt=salt,
        scheme=PORTUS_SCHEME,
        created_at=now,
    )
    session.add(token)
    await session.flush()
    return token


def token_state(token: PersonalToken, now: datetime) -> str:
    """``active``, ``revoked`` or ``expired``."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and now >= token.expires_at:
        return "expired"
    return "active"


async def tokens_of(session: AsyncSession, user_name: str) -> list[PersonalToken]:
    user = await require_user(session, user_name)
    found = await session.scalars(
        select(PersonalToken)
        .where(PersonalToken.user_id == user.id)
        .order_by(PersonalToken.created_at, PersonalToken.id)
    )
    return list(found.all())


async def revoke_token(
    session: AsyncSession, user_name: str, name: str, now: datetime
) -> PersonalToken:
    user = await require_user(session, user_name)
    token = await session.scalar(
        select(PersonalToken).where(
            PersonalToken.user_id == user.id,
            PersonalToken.name == name,
            PersonalToken.revoked_at.is_(None),
        )
    )
    if token is None:
        raise AccountNotFound(f"{user_name!r} has no active token named {name[:80]!r}")
    token.revoked_at = now
    return token


# -- teams ------------------------------------------------------------------------------------
async def team_by_name(session: AsyncSession, name: str) -> Team | None:
    if not _findable(name):
        return None
    return await session.scalar(select(Team).where(Team.name == name))


async def require_team(session: AsyncSession, name: str) -> Team:
    team = await team_by_name(session, name)
    if team is None or team.hidden:
        raise AccountNotFound(f"no team {name[:80]!r}")
    return team


async def add_team(
    session: AsyncSession, name: str, owner: str, now: datetime, *, description: str = ""
) -> Team:
    check_team_name(name)
    check_description(description)
    user = await require_user(session, owner)
    if await team_by_name(session, name) is not None:
        raise AccountConflict(f"team {name!r} exists already")
    team = Team(name=name, hidden=False, description=description, created_at=now)
    session.add(team)
    await session.flush()
    session.add(TeamMember(team_id=team.id, user_id=user.id, role=Role.OWNER, created_at=now))
    await session.flush()
    return team


async def set_member(
    session: AsyncSession, team_name: str, user_name: str, role: Role, now: datetime
) -> TeamMember:
    """Add the user to the team, or change the role it has there."""
    team = await require_team(session, team_name)
    user = await require_user(session, user_name)
    member = await session.get(TeamMember, (team.id, user.id))
    if member is None:
        member = TeamMember(team_id=team.id, user_id=user.id, role=role.value, created_at=now)
        session.add(member)
    else:
        if member.role == Role.OWNER and role is not Role.OWNER:
            await _keep_an_owner(session, team)
        member.role = role.value
    await session.flush()
    return member


async def remove_member(session: AsyncSession, team_name: str, user_name: str) -> None:
    team = await require_team(session, team_name)
    user = await require_user(session, user_name)
    member = await session.get(TeamMember, (team.id, user.id))
    if member is None:
        raise AccountNotFound(f"{user_name!r} is not a member of {team_name!r}")
    if member.role == Role.OWNER:
        await _keep_an_owner(session, team)
    await session.delete(member)
    await session.flush()


async def _keep_an_owner(session: AsyncSession, team: Team) -> None:
    owners = await session.scalar(
        select(func.count())
        .select_from(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.role == Role.OWNER)
    )
    if (owners or 0) <= 1:
        raise AccountConflict(f"team {team.name!r} would have no owner left")


@dataclass(frozen=True)
class MemberRow:
    user: str
    role: Role


async def members(session: AsyncSession, team_name: str) -> list[MemberRow]:
    team = await require_team(session, team_name)
    rows = await session.execute(
        select(User.name, TeamMember.role)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team.id)
        .order_by(User.name)
    )
    return [MemberRow(user=name, role=Role(role)) for name, role in rows]


async def teams(session: AsyncSession) -> list[Team]:
    found = await session.scalars(select(Team).where(Team.hidden.is_(False)).order_by(Team.name))
    return list(found.all())


# -- namespaces -------------------------------------------------------------------------------
async def namespace_by_name(session: AsyncSession, name: str) -> Namespace | None:
    if not _findable(name):
        return None
    return await session.scalar(select(Namespace).where(Namespace.name == name))


def rule_of(namespace: Namespace | None) -> NamespaceRule | None:
    if namespace is None:
        return None
    return NamespaceRule(
        name=namespace.name, visibility=Visibility(namespace.visibility), team_id=namespace.team_id
    )


async def namespace_rule(session: AsyncSession, name: str) -> NamespaceRule | None:
    """The rule of a namespace by name (``""`` the global one); None when unknown: an
    unknown namespace is private to the admins."""
    return rule_of(await namespace_by_name(session, name))


def _check_visibility(name: str, visibility: Visibility) -> None:
    if name == GLOBAL_NAMESPACE and visibility is Visibility.PRIVATE:
        raise AccountConflict("the global namespace cannot be private (everyone may pull)")


def _namespace_name(name: str) -> str:
    if name == GLOBAL_NAMESPACE:
        return name
    try:
        return check_namespace(name)
    except InvalidName as exc:
        raise InvalidAccount(str(exc)) from exc


async def add_namespace(
    session: AsyncSession,
    name: str,
    team_name: str | None,
    visibility: Visibility,
    now: datetime,
    *,
    registry_id: int,
    description: str = "",
) -> Namespace:
    """A namespace owned by the team (None: the admins); a namespace the registry created
    (owned by the admins) is handed over to the team instead."""
    _namespace_name(name)
    _check_visibility(name, visibility)
    check_description(description)
    team = await require_team(session, team_name) if team_name is not None else None
    namespace = await namespace_by_name(session, name)
    if namespace is not None and namespace.team_id is not None:
        raise AccountConflict(f"namespace {name!r} exists already")
    if namespace is None:
        namespace = Namespace(registry_id=registry_id, name=name, created_at=now)
        session.add(namespace)
    namespace.team_id = team.id if team is not None else None
    namespace.visibility = visibility.value
    namespace.description = description
    await session.flush()
    return namespace


async def set_namespace(
    session: AsyncSession,
    name: str,
    *,
    visibility: Visibility | None = None,
    team_name: str | None = None,
    description: str | None = None,
) -> Namespace:
    namespace = await namespace_by_name(session, _namespace_name(name))
    if namespace is None:
        raise AccountNotFound(f"no namespace {name[:80]!r}")
    if visibility is not None:
        _check_visibility(name, visibility)
        namespace.visibility = visibility.value
    if team_name is not None:
        namespace.team_id = (await require_team(session, team_name)).id
    if description is not None:
        namespace.description = check_description(description)
    await session.flush()
    return namespace


async def team_of(session: AsyncSession, namespace: Namespace) -> Team | None:
    """The namespace's team (None: the admins)."""
    return await session.get(Team, namespace.team_id) if namespace.team_id is not None else None


async def namespaces(session: AsyncSession) -> list[tuple[Namespace, str | None]]:
    """Every namespace with its team's name (None: the admins; a personal team's name is
    ``user:NAME``)."""
    rows = await session.execute(
        select(Namespace, Team.name)
        .outerjoin(Team, Team.id == Namespace.team_id)
        .order_by(Namespace.name)
    )
    return [(namespace, team) for namespace, team in rows]


# -- what a principal may read, as SQL ----------------------------------------------------------
def readable_namespace_ids(principal: Principal) -> Select[int] | None:
    """The ids of the namespaces the principal may see, as a subquery to filter reads by
    (``Repository.namespace_id.in_(...)``); None when it may see everything. Mirrors
    :func:`portside.accounts.policy.may_read`."""
    condition = _readable(principal)
    return None if condition is None else select(Namespace.id).where(condition)


def readable_namespace_names(principal: Principal) -> Select[str] | None:
    """As :func:`readable_namespace_ids`, by name (``Activity.namespace.in_(...)``)."""
    condition = _readable(principal)
    return None if condition is None else select(Namespace.name).where(condition)


def _readable(principal: Principal) -> ColumnElement[bool] | None:
    if principal.reads_everything:
        return None
    conditions = [Namespace.visibility == Visibility.PUBLIC.value]
    if principal.authenticated:
        conditions.append(Namespace.visibility == Visibility.PROTECTED.value)
    if principal.roles:
        conditions.append(Namespace.team_id.in_(sorted(principal.roles)))
    return or_(*conditions)


# -- directory users ----------------------------------------------------------------------------
async def sync_directory_teams(
    session: AsyncSession,
    user: User,
    wanted: dict[str, Role],
    mapped: set[str],
    now: datetime,
) -> list[str]:
    """Make the user's memberships of the ``mapped`` teams what the directory says: the role
    in ``wanted``, or no membership. Teams outside ``mapped`` are never touched; a mapped team
    that does not exist is skipped (with a warning). The directory rules the mapped teams, so
    this may take a team's last owner away (admins still manage it). Returns what changed."""
    if not mapped:
        return []
    found = {
        team.name: team
        for team in await session.scalars(
            select(Team).where(Team.name.in_(sorted(mapped)), Team.hidden.is_(False))
        )
    }
    for name in sorted(mapped - set(found)):
        _log.warning("auth.ldap.groups maps to the team %r, which does not exist", name)
    current = {
        member.team_id: member
        for member in await session.scalars(
            select(TeamMember).where(
                TeamMember.user_id == user.id,
                TeamMember.team_id.in_([team.id for team in found.values()]),
            )
        )
    }
    changes = []
    for name, team in sorted(found.items()):
        role, member = wanted.get(name), current.get(team.id)
        if role is None and member is not None:
            await session.delete(member)
            changes.append(f"left {name}")
        elif role is not None and member is None:
            session.add(
                TeamMember(team_id=team.id, user_id=user.id, role=role.value, created_at=now)
            )
            changes.append(f"joined {name} as {role.value}")
        elif role is not None and member is not None and member.role != role.value:
            member.role = role.value
            changes.append(f"{role.value} in {name}")
    await session.flush()
    return changes
