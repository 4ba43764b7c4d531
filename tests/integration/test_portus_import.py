"""`portside import-portus` from a Portus database on the machine's MariaDB into Portside's
SQLite and PostgreSQL: what comes over, a second run that changes nothing, --dry-run, bad rows
reported with reasons while the rest is imported, and the DSN's password never printed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from portside.accounts import store
from portside.accounts.vocabulary import Role, Visibility
from portside.cli import app
from portside.db.engine import Database
from portside.db.models import PersonalToken, Tag, Team, TeamMember, User, Webhook
from portside.index import store as index_store
from portside.registry.images import ImageInfo
from tests.support.portus_db import (
    PASSWORDS,
    PRIVATE,
    PortusDb,
    fill_example,
    portus_database,
)

T = TypeVar("T")
REGISTRY = "http://127.0.0.1:5000"


pytestmark = pytest.mark.mariadb


@pytest.fixture
def portus() -> Iterator[PortusDb]:
    with portus_database() as db:
        yield db


@pytest.fixture
def cli(database_url: str) -> Callable[..., Result]:
    env = {
        "PORTSIDE_DATABASE_URL": database_url,
        "PORTSIDE_REGISTRY__URL": REGISTRY,
        "PORTSIDE_LOG_LEVEL": "warning",
        "COLUMNS": "200",
    }
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return run


def stored(database_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Database(database_url) as db, db.write() as session:
            return await work(session)

    return asyncio.run(main())


async def counts(session: Any) -> dict[str, int]:
    found = {}
    for model in (User, Team, TeamMember, PersonalToken, Webhook):
        found[model.__tablename__] = await session.scalar(select(func.count()).select_from(model))
    found["namespaces"] = len(await store.namespaces(session))
    return found


def test_import_brings_accounts_and_a_second_run_changes_nothing(
    portus: PortusDb, cli: Callable[..., Result], database_url: str
) -> None:
    example = fill_example(portus)
    result = cli("import-portus", portus.dsn)
    assert result.exit_code == 0, result.output
    assert "skipped: user portus: Portus's internal user" in result.stdout
    assert "skipped: namespace portus: Portus's own namespace" in result.stdout

    async def check(session: Any) -> None:
        now = datetime.now(UTC)
        names = [user.name for user in await store.users(session)]
        assert names == ["admin", "ann", "bob", "carol", "dave", "robot"]
        ann = await store.require_user(session, "ann")
        assert ann.password_hash is not None and ann.password_hash.startswith("$2a$10$")
        assert ann.email == "ann@example.com" and ann.display_name == "Ann"
        assert (await store.require_user(session, "admin")).admin
        dave = await store.require_user(session, "dave")
        assert not dave.enabled and dave.ldap_name == "uid=dave,ou=people"
        robot = await store.require_user(session, "robot")
        assert robot.bot and robot.password_hash is None
        # Portus passwords work as they are; the hash is upgraded to argon2id on the way.
        assert await store.authenticate(session, "ann", PASSWORDS["ann"], now) is not None
        assert ann.password_hash.startswith("$argon2id$")
        assert await store.authenticate(session, "ann", "not her password", now) is None
        assert await store.authenticate(session, "dave", PASSWORDS["dave"], now) is None
        # Portus application tokens are passwords too (bots: tokens only).
        assert await store.authenticate(session, "ann", example.tokens["ann"], now) is not None
        assert await store.authenticate(session, "bob", example.tokens["ann"], now) is None
        assert await store.authenticate(session, "robot", example.tokens["robot"], now) is not None
        assert (
            await store.authenticate(
                session, "robot", example.tokens["robot"], now, tokens_only=True
            )
            is not None
        )
        # Teams and roles; personal teams come with their users.
        assert [m.__dict__ for m in await store.members(session, "Platform")] == [
            {"user": "admin", "role": Role.CONTRIBUTOR},
            {"user": "ann", "role": Role.OWNER},
            {"user": "bob", "role": Role.VIEWER},
            {"user": "robot", "role": Role.CONTRIBUTOR},
        ]
        assert [team.name for team in await store.teams(session)] == ["Platform"]
        spaces = {
            ns.name: (team, ns.visibility, ns.description)
            for ns, team in await store.namespaces(session)
        }
        assert "portus" not in spaces
        assert spaces["platform"] == ("Platform", "private", "platform images")
        assert spaces["shared"] == ("Platform", "protected", "shared images")
        assert spaces["open"] == ("Platform", "public", "open images")
        assert spaces["carol"] == ("user:carol", "protected", "carol's personal namespace")
        assert spaces["ann"] == ("user:ann", "private", "ann's personal namespace")
        # The webhook, as Portus sent it.
        hook = (await session.scalars(select(Webhook))).one()
        assert hook.name == "portus/platform/deploys"
        assert (hook.url, hook.namespaces, hook.method, hook.content_type) == (
            "http://hooks.example/portus",
            "platform",
            "POST",
            "application/json",
        )
        assert (hook.username, hook.password, hook.headers) == (
            "hook",
            "hook secret",
            {"X-Team": "platform"},
        )

    stored(database_url, check)
    before = stored(database_url, counts)

    again = cli("import-portus", portus.dsn)
    assert again.exit_code == 0, again.output
    assert "nothing to change" in again.stdout
    assert stored(database_url, counts) == before


def test_dry_run_writes_nothing(
    portus: PortusDb, cli: Callable[..., Result], database_url: str
) -> None:
    fill_example(portus)
    result = cli("import-portus", "--dry-run", portus.dsn)
    assert result.exit_code == 0, result.output
    assert "dry run: nothing written" in result.stdout
    assert "nothing to change" not in result.stdout
    assert stored(database_url, counts) == {
        "users": 0,
        "teams": 0,
        "team_members": 0,
        "personal_tokens": 0,
        "webhooks": 0,
        "namespaces": 0,
    }


def test_bad_rows_are_reported_and_the_rest_imported(
    portus: PortusDb, cli: Callable[..., Result], database_url: str
) -> None:
    fill_example(portus)
    ann = portus.users["ann"]
    portus.insert("users", username="Bad Name!", encrypted_password="")
    erin = portus.user("erin", "erin's portus pw")
    portus.execute("UPDATE users SET encrypted_password = 'plain text' WHERE id = %s", erin)
    team = portus.team("Ops", ann)
    portus.member(team, portus.users["bob"], 9)
    portus.namespace("weird", team, 7)
    portus.namespace("Upper Case", team, PRIVATE)
    portus.insert(
        "application_tokens", application="broken", token_hash="x", token_salt="y", user_id=ann
    )
    portus.webhook(portus.global_namespace, "ftp", "ftp://files.example/")
    hook = portus.webhook(portus.global_namespace, "crlf", "http://hooks.example/")
    portus.insert("webhook_headers", webhook_id=hook, name="X-Bad", value="a\r\nInjected: 1")
    result = cli("import-portus", portus.dsn)
    assert result.exit_code == 1, result.output
    out = " ".join(result.stdout.split())
    for reason in (
        "not brought: user #",  # the bad name, by id
        "is not a valid user name",
        "encrypted_password is not a bcrypt hash",
        "role 9 is not one of [0, 1, 2]",
        "visibility 7 is not one of [0, 1, 2]",
        "'Upper Case'",
        "token_hash is not a bcrypt hash",
        "url is not an http:// or https:// URL",
        "header X-Bad's value contains control characters",
        "not brought: namespace erin: its team was not brought",
    ):
        assert reason in out, reason

    async def check(session: Any) -> None:
        names = [user.name for user in await store.users(session)]
        assert names == ["admin", "ann", "bob", "carol", "dave", "robot"]
        assert [team.name for team in await store.teams(session)] == ["Ops", "Platform"]
        assert await store.namespace_by_name(session, "weird") is None
        assert await store.namespace_by_name(session, "platform") is not None

    stored(database_url, check)


def test_tag_authors_fill_what_the_sync_left_empty(
    portus: PortusDb, cli: Callable[..., Result], database_url: str
) -> None:
    fill_example(portus)
    ann = portus.users["ann"]
    portus.tag(portus.global_namespace, "base", "1", ann, None)  # a pusher by user id only

    async def index(session: Any) -> None:
        """What a first sync leaves: the namespace private to the admins, tags without
        authors (Portus's registry notifications are not Portside's history)."""
        now = datetime.now(UTC)
        registry_id = await index_store.ensure_registry(session, REGISTRY, now)
        repos, _ = await index_store.ensure_repositories(
            session, registry_id, ["platform/app", "base"], now
        )
        image = ImageInfo(
            digest="sha256:" + "1" * 64, media_type="application/vnd.oci.image.manifest.v1+json"
        )
        for repo, tag in (("platform/app", "1.0"), ("platform/app", "2.0"), ("base", "1")):
            session.add(Tag(**index_store.new_tag(repos[repo].id, tag, image, now)))

    stored(database_url, index)
    result = cli("import-portus", portus.dsn)
    assert result.exit_code == 0, result.output

    async def authors(session: Any) -> dict[str, str | None]:
        rows = await session.execute(select(Tag.name, Tag.author, Tag.repository_id))
        spaces = {ns.name: (team, ns.visibility) for ns, team in await store.namespaces(session)}
        assert spaces["platform"] == ("Platform", Visibility.PRIVATE.value)
        return {name: author for name, author, _ in rows}

    assert stored(database_url, authors) == {"1.0": "ann", "2.0": None, "1": "ann"}
    again = cli("import-portus", portus.dsn)
    assert "nothing to change" in again.stdout


def test_dsn_errors_and_the_password_never_printed(
    portus: PortusDb, cli: Callable[..., Result]
) -> None:
    bad = cli("import-portus", "http://somewhere/portus")
    assert bad.exit_code == 2 and "mysql://" in bad.output
    pg = cli("import-portus", "postgresql://u:p@h/portus")
    assert pg.exit_code == 2 and "PostgreSQL" in pg.output
    secret = "s3cret-pw-xyz"
    wrong = cli("import-portus", f"mysql://root:{secret}@127.0.0.1:3306/{portus.name}")
    assert wrong.exit_code == 1
    assert "cannot connect to mysql://root@127.0.0.1:3306/" in wrong.output
    assert secret not in wrong.output
    empty = cli("import-portus", f"mysql://root@127.0.0.1:3306/{portus.name}_none")
    assert empty.exit_code == 1 and "cannot connect" in empty.output
