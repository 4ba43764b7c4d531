"""Carrying out an import's plan in Portside's database (through ``accounts.store`` and the
outgoing webhooks' store), and reading what Portside has for the plan to compare with."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts import store as accounts
from portside.accounts.errors import AccountError
from portside.accounts.vocabulary import Role, Visibility
from portside.db.models import (
    PersonalToken,
    Repository,
    Tag,
    Team,
    TeamMember,
    User,
    Webhook,
)
from portside.outgoing import store as webhooks
from portside.portus.plan import (
    WEBHOOK_KINDS,
    AuthorWant,
    Existing,
    MemberWant,
    NamespaceWant,
    Outcome,
    Plan,
    Step,
    TeamWant,
    TokenWant,
    UserWant,
    WebhookWant,
)


async def existing(session: AsyncSession) -> Existing:
    """What Portside has, in the plan's terms."""
    found = Existing()
    for user in await accounts.users(session):
        found.users[user.name] = UserWant(
            name=user.name,
            email=user.email,
            admin=user.admin,
            enabled=user.enabled,
            bot=user.bot,
            ldap_name=user.ldap_name,
            display_name=user.display_name,
        )
    for team in await accounts.teams(session):
        found.teams[team.name] = team.description
    rows = await session.execute(
        select(Team.name, User.name, TeamMember.role)
        .join(Team, Team.id == TeamMember.team_id)
        .join(User, User.id == TeamMember.user_id)
    )
    for team_name, user_name, role in rows:
        found.members[(team_name, user_name)] = Role(role)
    for namespace, owner in await accounts.namespaces(session):
        found.namespaces[namespace.name] = NamespaceWant(
            namespace.name, owner, Visibility(namespace.visibility), namespace.description
        )
    tokens = await session.execute(
        select(
            User.name, PersonalToken.name, PersonalToken.token_hash, PersonalToken.revoked_at
        ).join(User, User.id == PersonalToken.user_id)
    )
    for user_name, token_name, token_hash, revoked_at in tokens:
        found.token_hashes.add(token_hash)
        if revoked_at is None:
            found.token_names.add((user_name, token_name))
    for hook in await webhooks.hooks(session):
        found.webhooks[hook.name] = WebhookWant(
            name=hook.name,
            url=hook.url,
            namespaces=hook.namespaces,
            method=hook.method,
            content_type=hook.content_type,
            username=hook.username,
            password=hook.password,
            headers=tuple(sorted((hook.headers or {}).items())),
            enabled=hook.enabled,
        )
    tags = await session.execute(
        select(Repository.name, Tag.name, Tag.author).join(
            Repository, Repository.id == Tag.repository_id
        )
    )
    for repository, tag, author in tags:
        found.authors[(repository, tag)] = author
    return found


async def apply(session: AsyncSession, plan: Plan, now: datetime, *, registry_id: int) -> Plan:
    """Carry out every create and update; the plan as it went (a step the store refuses
    becomes "not brought" with the store's reason, and the import goes on)."""
    done = Plan()
    for step in plan.steps:
        if step.outcome not in (Outcome.CREATE, Outcome.UPDATE) or step.want is None:
            done.steps.append(step)
            continue
        try:
            await _apply(session, step, now, registry_id)
        except AccountError as exc:
            done.steps.append(replace(step, outcome=Outcome.REFUSE, reason=str(exc)))
            continue
        done.steps.append(step)
    return done


async def _apply(session: AsyncSession, step: Step, now: datetime, registry_id: int) -> None:
    want = step.want
    create = step.outcome is Outcome.CREATE
    if isinstance(want, UserWant):
        await _user(session, want, create, now, registry_id)
    elif isinstance(want, TeamWant):
        if create:
            await accounts.add_team(
                session, want.name, want.owner, now, description=want.description
            )
        else:
            (await accounts.require_team(session, want.name)).description = want.description
    elif isinstance(want, MemberWant):
        await accounts.set_member(session, want.team, want.user, want.role, now)
    elif isinstance(want, NamespaceWant):
        await _namespace(session, want, create, now, registry_id)
    elif isinstance(want, TokenWant):
        await accounts.add_portus_token(
            session, want.user, want.name, want.token_hash, want.salt, now
        )
    elif isinstance(want, WebhookWant):
        await _webhook(session, want, create, now)
    elif isinstance(want, AuthorWant):
        await _author(session, want)


async def _user(
    session: AsyncSession, want: UserWant, create: bool, now: datetime, registry_id: int
) -> None:
    if create:
        user = await accounts.add_user(
            session,
            want.name,
            now,
            registry_id=registry_id,
            admin=want.admin,
            bot=want.bot,
            email=want.email,
        )
        user.password_hash = want.password_hash  # Portus's bcrypt: upgraded at the next login
    else:
        user = await accounts.require_user(session, want.name)
        user.updated_at = now
    user.email = want.email
    user.admin = want.admin
    user.enabled = want.enabled
    user.bot = want.bot
    user.ldap_name = want.ldap_name
    user.display_name = want.display_name
    await session.flush()


async def _namespace(
    session: AsyncSession, want: NamespaceWant, create: bool, now: datetime, registry_id: int
) -> None:
    if await accounts.namespace_by_name(session, want.name) is None:
        # Planned as an update of a personal namespace add_user did not make (taken), or new.
        await accounts.add_namespace(
            session,
            want.name,
            want.team,
            want.visibility,
            now,
            registry_id=registry_id,
            description=want.description,
        )
        return
    if want.team is not None and want.team.startswith("user:"):
        namespace = await accounts.set_namespace(
            session, want.name, visibility=want.visibility, description=want.description
        )
        team = await accounts.team_by_name(session, want.team)
        if team is not None:
            namespace.team_id = team.id
        return
    await accounts.set_namespace(
        session,
        want.name,
        visibility=want.visibility,
        team_name=want.team,
        description=want.description,
    )


async def _webhook(session: AsyncSession, want: WebhookWant, create: bool, now: datetime) -> None:
    if create:
        hook = await webhooks.add(
            session,
            name=want.name,
            url=want.url,
            secret=secrets.token_urlsafe(32),  # Portus signed nothing: a receiver ignores it
            namespaces=want.namespaces,
            kinds=list(WEBHOOK_KINDS),
            now=now,
        )
    else:
        found = await session.scalar(select(Webhook).where(Webhook.name == want.name))
        assert found is not None
        hook = found
    hook.url = want.url
    hook.namespaces = want.namespaces
    hook.method = want.method
    hook.content_type = want.content_type
    hook.username = want.username
    hook.password = want.password
    hook.headers = dict(want.headers)
    hook.enabled = want.enabled
    await session.flush()


async def _author(session: AsyncSession, want: AuthorWant) -> None:
    repository = select(Repository.id).where(Repository.name == want.repository)
    await session.execute(
        update(Tag)
        .where(Tag.repository_id.in_(repository), Tag.name == want.tag, Tag.author.is_(None))
        .values(author=want.author)
    )
