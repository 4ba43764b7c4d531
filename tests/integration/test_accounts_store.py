"""The accounts' storage on SQLite and PostgreSQL: users with personal namespaces, teams and
roles, namespaces, personal tokens, authentication and the readable-namespaces filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import bcrypt
import pytest
from sqlalchemy import select

from portside.accounts import store
from portside.accounts.errors import AccountConflict, AccountNotFound, InvalidAccount
from portside.accounts.policy import ANONYMOUS, Principal
from portside.accounts.vocabulary import Role, Visibility
from portside.db.engine import Database
from portside.db.models import User
from portside.index import store as index_store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


async def registry(db: Database) -> int:
    async with db.write() as session:
        return await index_store.ensure_registry(session, "http://127.0.0.1:5000", NOW)


async def test_users_teams_namespaces(db: Database) -> None:
    registry_id = await registry(db)
    async with db.write() as session:
        await store.add_user(session, "ann", NOW, registry_id=registry_id, password=PASSWORD)
        await store.add_user(session, "bob", NOW, registry_id=registry_id, password=PASSWORD)
        await store.add_user(session, "ci", NOW, registry_id=registry_id, bot=True)
        await store.add_team(session, "Platform", "ann", NOW)
        await store.set_member(session, "Platform", "bob", Role.VIEWER, NOW)
        await store.add_namespace(
            session, "platform", "Platform", Visibility.PRIVATE, NOW, registry_id=registry_id
        )
        await store.add_namespace(
            session, "shared", "Platform", Visibility.PROTECTED, NOW, registry_id=registry_id
        )
        with pytest.raises(AccountConflict):
            await store.add_user(session, "ann", NOW, registry_id=registry_id)
        with pytest.raises(InvalidAccount):
            await store.add_user(session, "Evil/../x", NOW, registry_id=registry_id)
        with pytest.raises(AccountConflict):  # the last owner stays
            await store.set_member(session, "Platform", "ann", Role.VIEWER, NOW)
        with pytest.raises(AccountNotFound):
            await store.set_member(session, "Nope", "ann", Role.VIEWER, NOW)
    async with db.read() as session:
        assert [m.user for m in await store.members(session, "Platform")] == ["ann", "bob"]
        assert [t.name for t in await store.teams(session)] == ["Platform"]  # personal hidden
        rules = {ns.name: (ns.visibility, team) for ns, team in await store.namespaces(session)}
        assert rules["ann"] == ("private", "user:ann")
        assert rules["platform"] == ("private", "Platform")
        bob = await store.require_user(session, "bob")
        principal = await store.principal_for(session, bob)
        readable = store.readable_namespace_names(principal)
        assert readable is not None
        names = set((await session.scalars(readable)).all())
        # bob: his own, his team's private one, the protected one; not ann's.
        assert names == {"bob", "platform", "shared"}
        anonymous = store.readable_namespace_names(ANONYMOUS)
        assert anonymous is not None
        assert set((await session.scalars(anonymous)).all()) == set()
        assert store.readable_namespace_ids(Principal(name="root", admin=True)) is None


async def test_global_namespace_cannot_be_private(db: Database) -> None:
    registry_id = await registry(db)
    async with db.write() as session:
        await index_store.ensure_repositories(session, registry_id, ["alpine", "x/y"], NOW)
    async with db.write() as session:
        glob = await store.namespace_by_name(session, "")
        created = await store.namespace_by_name(session, "x")
        assert glob is not None and glob.visibility == "public"
        assert created is not None and created.visibility == "private"
        assert created.team_id is None  # the admins'
        with pytest.raises(AccountConflict):
            await store.set_namespace(session, "", visibility=Visibility.PRIVATE)


async def test_authentication(db: Database) -> None:
    registry_id = await registry(db)
    async with db.write() as session:
        await store.add_user(session, "ann", NOW, registry_id=registry_id, password=PASSWORD)
        await store.add_user(session, "ci", NOW, registry_id=registry_id, bot=True)
        _, ann_token = await store.add_token(session, "ann", "laptop", NOW, days=30)
        _, ci_token = await store.add_token(session, "ci", "pipeline", NOW)
        # A Portus user's bcrypt hash, as Devise wrote it ($2a$, cost 10).
        portus = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
        portus = "$2a$" + portus[4:]
        await store.add_user(session, "old", NOW, registry_id=registry_id)
        old = await store.require_user(session, "old")
        old.password_hash = portus
    async with db.write() as session:
        assert await store.authenticate(session, "ann", PASSWORD, NOW) is not None
        assert await store.authenticate(session, "ann", "wrong password", NOW) is None
        assert await store.authenticate(session, "nobody", PASSWORD, NOW) is None
        assert await store.authenticate(session, "ann", ann_token, NOW) is not None
        assert await store.authenticate(session, "ci", ann_token, NOW) is None  # not his
        assert await store.authenticate(session, "ci", ci_token, NOW) is not None
        assert await store.authenticate(session, "ann", ann_token, NOW + timedelta(days=31)) is None
        assert await store.authenticate(session, "old", PASSWORD, NOW) is not None
    async with db.write() as session:
        old_hash = await session.scalar(select(User.password_hash).where(User.name == "old"))
        assert old_hash is not None and old_hash.startswith("$argon2id$")  # upgraded
        await store.revoke_token(session, "ann", "laptop", NOW)
        await store.set_enabled(session, "ci", False, NOW)
    async with db.write() as session:
        assert await store.authenticate(session, "ann", ann_token, NOW) is None
        assert await store.authenticate(session, "ci", ci_token, NOW) is None
        assert await store.authenticate(session, "old", PASSWORD, NOW) is not None


async def test_activities_know_their_namespace(db: Database) -> None:
    from portside.db.models import Activity
    from portside.index.vocabulary import ActivityKind

    async with db.write() as session:
        index_store.record(session, ActivityKind.TAG_PUSH, NOW, actor="ann", repository="team/app")
        index_store.record(session, ActivityKind.TAG_PUSH, NOW, actor="ann", repository="alpine")
    async with db.read() as session:
        rows = (await session.execute(select(Activity.repository, Activity.namespace))).all()
    assert sorted(rows) == [("alpine", ""), ("team/app", "team")]


async def test_kept_secrets_are_made_once(db: Database) -> None:
    import asyncio
    import secrets

    from portside.db.kept import kept

    values = await asyncio.gather(*(kept(db, "session", secrets.token_hex) for _ in range(5)))
    assert len(set(values)) == 1
    assert await kept(db, "session", lambda: "other") == values[0]
