"""`portside user/team/namespace/token` on SQLite and PostgreSQL: the command line (Typer's
runner in this process, and the installed `portside` as a subprocess for what a shell script
sees), checked against what the accounts' store then says."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner, Result

from portside.accounts import store
from portside.cli import app
from portside.db.engine import Database

T = TypeVar("T")
REGISTRY = "http://127.0.0.1:5000"
PASSWORD = "correct horse battery"
PORTSIDE = str(Path(sys.executable).parent / "portside")


@pytest.fixture
def cli(database_url: str) -> Callable[..., Result]:
    env = {
        "PORTSIDE_DATABASE_URL": database_url,
        "PORTSIDE_REGISTRY__URL": REGISTRY,
        "PORTSIDE_LOG_LEVEL": "warning",
    }
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)

    return run


def stored(database_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """What the store says (read in its own event loop: the commands ran theirs)."""

    async def main() -> T:
        async with Database(database_url) as db, db.write() as session:
            return await work(session)

    return asyncio.run(main())


def test_users_passwords_and_their_state(cli: Callable[..., Result], database_url: str) -> None:
    result = cli("user", "add", "ann", "--admin", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "added admin ann\n"
    result = cli("user", "add", "bob")
    assert result.exit_code == 0
    assert "bob has no password" in result.stderr  # said, since it cannot log in with one
    assert cli("user", "add", "ci", "--bot").exit_code == 0

    async def check(session: Any) -> None:
        now = datetime.now(UTC)
        ann = await store.authenticate(session, "ann", PASSWORD, now)
        assert ann is not None and ann.admin
        assert await store.authenticate(session, "ann", "wrong password", now) is None
        bob = await store.require_user(session, "bob")
        assert bob.password_hash is None
        namespaces = {ns.name: team for ns, team in await store.namespaces(session)}
        assert namespaces == {"ann": "user:ann", "bob": "user:bob", "ci": "user:ci"}

    stored(database_url, check)

    listed = json.loads(cli("user", "list", "--json").stdout)
    assert [(u["name"], u["admin"], u["bot"], u["has_password"]) for u in listed] == [
        ("ann", True, False, True),
        ("bob", False, False, False),
        ("ci", False, True, False),
    ]
    assert not any("hash" in key for user in listed for key in user)
    table = cli("user", "list").stdout
    assert "ann" in table and "bob" in table and "ci" in table

    # A password set later works; the old one and bad ones do not.
    assert (
        cli("user", "password", "bob", "--password-stdin", input="n3w password!\n").exit_code == 0
    )
    result = cli("user", "password", "bob", "--password-stdin", input="short\n")
    assert result.exit_code == 2
    assert "at least 8 characters" in result.stderr
    assert cli("user", "password", "bob").exit_code == 2  # the flag says where it comes from
    assert cli("user", "password", "ci", "--password-stdin", input=PASSWORD).exit_code == 2

    assert cli("user", "disable", "bob").stdout == "disabled bob\n"

    async def disabled(session: Any) -> None:
        now = datetime.now(UTC)
        assert await store.authenticate(session, "bob", "n3w password!", now) is None

    stored(database_url, disabled)
    assert cli("user", "enable", "bob").exit_code == 0

    async def enabled(session: Any) -> None:
        now = datetime.now(UTC)
        assert await store.authenticate(session, "bob", "n3w password!", now) is not None

    stored(database_url, enabled)


def test_wrong_input_exits_2_missing_things_exit_1(cli: Callable[..., Result]) -> None:
    for args, code, said in [
        (("user", "add", "Bad/Name"), 2, "not a valid user name"),
        (("user", "add", "x", "--bot", "--password-stdin"), 2, "a bot has no password"),
        (("user", "disable", "nobody"), 1, "no user 'nobody'"),
        (("team", "add", "Ops", "--owner", "nobody"), 1, "no user 'nobody'"),
        (("team", "member", "list", "Nope"), 1, "no team 'Nope'"),
        (("namespace", "set", "nowhere", "--visibility", "public"), 1, "no namespace"),
        (("namespace", "set", "nowhere"), 2, "nothing to change"),
        (("token", "list", "nobody"), 1, "no user 'nobody'"),
    ]:
        result = cli(*args)
        assert result.exit_code == code, (args, result.stderr)
        assert said in result.stderr, (args, result.stderr)
        assert result.stdout == ""
    assert cli("user", "add", "ann").exit_code == 0
    result = cli("user", "add", "ann")
    assert (result.exit_code, result.stderr.strip()) == (1, "error: user 'ann' exists already")
    result = cli("user", "add", "eve", "--password-stdin", input="\n")
    assert result.exit_code == 2
    assert "no password on stdin" in result.stderr
    # click refuses an unknown role or visibility itself, with its usage exit code
    assert cli("team", "member", "add", "Ops", "ann", "--role", "boss").exit_code == 2
    assert cli("namespace", "add", "x", "--team", "t", "--visibility", "secret").exit_code == 2


def test_teams_members_and_namespaces(cli: Callable[..., Result], database_url: str) -> None:
    for name in ("ann", "bob", "cy"):
        assert cli("user", "add", name).exit_code == 0
    assert (
        cli("team", "add", "Platform", "--owner", "ann").stdout
        == "added team Platform (owner ann)\n"
    )
    assert cli("team", "add", "Platform", "--owner", "bob").exit_code == 1  # exists
    result = cli("team", "member", "add", "Platform", "bob", "--role", "viewer")
    assert result.stdout == "bob is viewer in Platform\n"
    assert cli("team", "member", "add", "Platform", "cy", "--role", "contributor").exit_code == 0
    assert cli("team", "member", "add", "Platform", "bob", "--role", "owner").exit_code == 0
    members = json.loads(cli("team", "member", "list", "Platform", "--json").stdout)
    assert members == [
        {"user": "ann", "role": "owner"},
        {"user": "bob", "role": "owner"},
        {"user": "cy", "role": "contributor"},
    ]
    assert cli("team", "member", "remove", "Platform", "ann").exit_code == 0
    result = cli("team", "member", "remove", "Platform", "bob")  # the last owner
    assert result.exit_code == 1
    assert "no owner left" in result.stderr
    teams = json.loads(cli("team", "list", "--json").stdout)
    assert [(t["name"], len(t["members"])) for t in teams] == [("Platform", 2)]

    result = cli(
        "namespace",
        "add",
        "platform",
        "--team",
        "Platform",
        "--visibility",
        "private",
        "--description",
        "base images",
    )
    assert result.exit_code == 0, result.stderr
    assert (
        cli(
            "namespace", "add", "platform", "--team", "Platform", "--visibility", "public"
        ).exit_code
        == 1
    )
    result = cli(
        "namespace",
        "add",
        "docs",
        "--team",
        "Platform",
        "--visibility",
        "public",
        "--description",
        "a\x1b[31m red",
    )
    assert result.exit_code == 2
    assert "control characters" in result.stderr
    assert cli("namespace", "set", "platform", "--visibility", "protected").exit_code == 0
    # The global namespace ("") may not be private.
    assert (
        cli("namespace", "add", "", "--team", "Platform", "--visibility", "public").exit_code == 0
    )
    result = cli("namespace", "set", "", "--visibility", "private")
    assert result.exit_code == 1
    assert "cannot be private" in result.stderr

    listed = json.loads(cli("namespace", "list", "--json").stdout)
    assert {(n["name"], n["team"], n["visibility"]) for n in listed} == {
        ("", "Platform", "public"),
        ("ann", "user:ann", "private"),
        ("bob", "user:bob", "private"),
        ("cy", "user:cy", "private"),
        ("platform", "Platform", "protected"),
    }
    table = cli("namespace", "list").stdout
    assert "(global)" in table and "ann (personal)" in table

    async def check(session: Any) -> None:
        rule = await store.namespace_rule(session, "platform")
        team = await store.team_by_name(session, "Platform")
        assert rule is not None and team is not None
        assert (rule.visibility, rule.team_id) == ("protected", team.id)

    stored(database_url, check)


def test_tokens_are_shown_once_and_revocable(cli: Callable[..., Result], database_url: str) -> None:
    assert cli("user", "add", "ci", "--bot").exit_code == 0
    result = cli("token", "add", "ci", "deploy", "--expires", "30")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.startswith("pst_")  # the token alone
    assert "shown this once" in result.stderr
    assert cli("token", "add", "ci", "deploy").exit_code == 1  # an active one has the name
    assert cli("token", "add", "ci", "other", "--expires", "0").exit_code == 2

    async def works(session: Any) -> bool:
        return await store.authenticate(session, "ci", token, datetime.now(UTC)) is not None

    assert stored(database_url, works)
    (listed,) = json.loads(cli("token", "list", "ci", "--json").stdout)
    assert listed["name"] == "deploy" and listed["state"] == "active"
    assert listed["expires_at"] is not None
    assert token not in cli("token", "list", "ci").stdout
    assert cli("token", "revoke", "ci", "deploy").exit_code == 0
    assert not stored(database_url, works)
    assert cli("token", "revoke", "ci", "deploy").exit_code == 1
    (listed,) = json.loads(cli("token", "list", "ci", "--json").stdout)
    assert listed["state"] == "revoked"


def test_the_installed_command_in_a_script(database_url: str, tmp_path: Path) -> None:
    """As a shell script sees it: the token alone on stdout, the note on stderr, exit codes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTSIDE_")}
    env.update(PORTSIDE_DATABASE_URL=database_url, PORTSIDE_REGISTRY__URL=REGISTRY)

    def portside(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PORTSIDE, *args],
            env=env,
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    added = portside("user", "add", "ann", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    made = portside("token", "add", "ann", "laptop")
    assert made.returncode == 0
    assert made.stdout.startswith("pst_") and made.stdout.count("\n") == 1
    assert "laptop" in made.stderr and made.stdout.strip() not in made.stderr
    refused = portside("team", "member", "add", "Ops", "ann", "--role", "boss")
    assert refused.returncode == 2
    assert refused.stdout == ""
