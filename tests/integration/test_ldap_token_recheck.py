"""A directory user's personal token, re-checked against a real slapd (tests/support/ldap.py),
on both databases through a real server: the API (Bearer) and the registry's token server
(the token as the password). Gone from the directory: disabled at the next due re-check, and
refused. Directory down: the last confirmation holds for auth.ldap.recheck_grace, then 503.
Time passing is written into users.directory_checked_at (the re-check's clock)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from portside.accounts import store
from portside.accounts.vocabulary import Visibility
from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import User
from portside.index import store as index_store
from tests.integration.conftest import make_settings, serving
from tests.integration.test_ldap_logins import ldap_settings
from tests.support import ldap as slapd

SERVICE = "127.0.0.1:5000"
ROOT_PASSWORD = "root-local-password"
SCOPE = "repository:open/app:pull"
INTERVAL, GRACE = 300, 3600


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[slapd.Directory]:
    with slapd.running_directory(tmp_path / "slapd") as running:
        yield running


@dataclass
class Site:
    base: str
    http: aiohttp.ClientSession
    db: Database
    directory: slapd.Directory

    async def api(self, token: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.get(f"{self.base}/api/v1/me", headers=headers) as resp:
            return resp.status, await resp.json()

    async def registry_token(self, user: str, password: str) -> tuple[int, Any]:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        async with self.http.get(
            f"{self.base}/v2/token",
            params={"service": SERVICE, "scope": SCOPE},
            headers={"Authorization": f"Basic {basic}"},
        ) as resp:
            return resp.status, await resp.json()

    async def first_login(self, name: str) -> str:
        """The directory user logs in once with its directory password (created, confirmed),
        and gets a personal token."""
        status, _ = await self.registry_token(name, slapd.PASSWORDS[name])
        assert status == 200
        async with self.db.write() as session:
            _, plain = await store.add_token(session, name, "laptop", datetime.now(UTC))
        return plain

    async def user(self, name: str) -> User:
        async with self.db.read() as session:
            return await store.require_user(session, name)

    async def confirmed(self, name: str, seconds_ago: float) -> datetime:
        """Let time pass: the user's last confirmation ``seconds_ago``."""
        when = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        async with self.db.write() as session:
            user = await store.require_user(session, name)
            user.directory_checked_at = when
        return when


@pytest.fixture
async def site(database_url: str, directory: slapd.Directory) -> AsyncIterator[Site]:
    settings = make_settings(
        database_url,
        registry={"url": f"http://{SERVICE}"},
        auth={
            "ldap": {
                **ldap_settings(directory),
                "recheck_interval": INTERVAL,
                "recheck_grace": GRACE,
            }
        },
    )
    now = datetime.now(UTC)
    async with Database(database_url) as db:
        async with db.write() as session:
            registry_id = await index_store.ensure_registry(session, f"http://{SERVICE}", now)
            await store.add_user(
                session, "root", now, registry_id=registry_id, password=ROOT_PASSWORD, admin=True
            )
            await store.add_team(session, "Developers", "root", now)
            await store.add_namespace(
                session, "open", "Developers", Visibility.PUBLIC, now, registry_id=registry_id
            )
        async with (
            serving(create_app(settings), settings.server.port) as base,
            aiohttp.ClientSession() as http,
        ):
            yield Site(base, http, db, directory)


async def test_a_user_gone_from_the_directory_loses_its_tokens_at_the_next_recheck(
    site: Site,
) -> None:
    alice = await site.first_login("alice")  # through the API
    bob = await site.first_login("bob")  # through the registry's token server
    confirmed = (await site.user("alice")).directory_checked_at
    assert confirmed is not None  # the login was a confirmation
    assert (await site.api(alice))[0] == 200
    assert (await site.registry_token("bob", bob))[0] == 200
    site.directory.delete_user("alice")
    site.directory.delete_user("bob")
    # Within the interval the directory is not asked: the token still works.
    status, body = await site.api(alice)
    assert status == 200 and body["name"] == "alice"
    assert (await site.registry_token("bob", bob))[0] == 200
    # The interval is over: asked, gone, disabled, refused.
    await site.confirmed("alice", INTERVAL + 1)
    await site.confirmed("bob", INTERVAL + 1)
    status, body = await site.api(alice)
    assert status == 401
    assert not (await site.user("alice")).enabled
    status, body = await site.registry_token("bob", bob)
    assert status == 401 and body["errors"][0]["code"] == "UNAUTHORIZED"
    assert not (await site.user("bob")).enabled
    # Disabled for good: the other path refuses too, with no directory asked.
    assert (await site.registry_token("alice", alice))[0] == 401
    assert (await site.api(bob))[0] == 401


async def test_a_user_still_in_the_directory_is_confirmed_again(site: Site) -> None:
    alice = await site.first_login("alice")
    old = await site.confirmed("alice", INTERVAL + 1)
    assert (await site.api(alice))[0] == 200
    renewed = (await site.user("alice")).directory_checked_at
    assert renewed is not None and renewed > old + timedelta(seconds=INTERVAL)
    # The next uses within the interval do not ask (the confirmation is not rewritten).
    assert (await site.registry_token("alice", alice))[0] == 200
    assert (await site.user("alice")).directory_checked_at == renewed


async def test_a_directory_that_is_down_holds_the_last_answer_for_the_grace(site: Site) -> None:
    alice = await site.first_login("alice")
    async with site.db.write() as session:
        _, root = await store.add_token(session, "root", "ci", datetime.now(UTC))
    site.directory.stop()
    # Due, but the directory cannot answer: within the grace the token works, unconfirmed.
    within = await site.confirmed("alice", INTERVAL + 60)
    assert (await site.api(alice))[0] == 200
    assert (await site.registry_token("alice", alice))[0] == 200
    assert (await site.user("alice")).directory_checked_at == within
    # Past the grace: 503 (the directory, not the token, is the problem); not disabled.
    await site.confirmed("alice", GRACE + 1)
    status, body = await site.api(alice)
    assert status == 503
    assert body["error"]["code"] == "directory_unavailable"
    status, body = await site.registry_token("alice", alice)
    assert status == 503 and body["errors"][0]["code"] == "UNAVAILABLE"
    assert (await site.user("alice")).enabled
    # A local user's token is never re-checked.
    assert (await site.api(root))[0] == 200
    assert (await site.registry_token("root", root))[0] == 200
