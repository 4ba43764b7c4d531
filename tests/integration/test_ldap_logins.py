"""LDAP logins against a real slapd (tests/support/ldap.py): the directory module over plain
LDAP, StartTLS and LDAPS with a CA file; and, on both databases through a real server, the
login page and the registry's token server with directory passwords: first-login creation,
group -> team mapping and its removal, wrong passwords, a user deleted from the directory, a
directory that is down (a clear error; the local admin still logs in), and a local account
that the directory cannot take over."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from sqlalchemy import select

from portside.accounts import store
from portside.accounts.ldap import Directory, DirectoryUnavailable
from portside.accounts.vocabulary import Role, Visibility
from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import LoginThrottle
from portside.index import store as index_store
from portside.settings import LdapSettings, Settings
from tests.integration.conftest import make_settings, serving
from tests.integration.test_web_login import browser, log_in
from tests.support import ldap as slapd

SERVICE = "127.0.0.1:5000"
NOW = datetime.now(UTC)
ROOT_PASSWORD = "root-local-password"
CAROL_LOCAL = "carol-local-password"


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[slapd.Directory]:
    with slapd.running_directory(tmp_path / "slapd") as running:
        yield running


def ldap_settings(directory: slapd.Directory, **overrides: Any) -> dict[str, Any]:
    return {
        "url": directory.url,
        "bind_dn": slapd.SERVICE_DN,
        "bind_password": slapd.SERVICE_PASSWORD,
        "user_base": slapd.PEOPLE,
        "group_base": slapd.GROUPS,
        "groups": {"developers": {"team": "Developers", "role": "contributor"}},
        "admin_group": "portside-admins",
        "timeout": 5,
        **overrides,
    }


# -- the directory module ---------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["plain", "starttls", "ldaps"])
async def test_the_directory_checks_passwords_and_finds_groups(
    directory: slapd.Directory, transport: str
) -> None:
    extra: dict[str, Any] = {
        "plain": {},
        "starttls": {"start_tls": True, "ca_file": directory.pki.ca},
        "ldaps": {"url": directory.ldaps_url, "ca_file": directory.pki.ca},
    }[transport]
    found = Directory(LdapSettings(**ldap_settings(directory, **extra)))
    alice = await found.authenticate("alice", slapd.PASSWORDS["alice"])
    assert alice.entry is not None
    assert alice.entry.dn == slapd.user_dn("alice") and alice.entry.uid == "alice"
    assert alice.entry.email == "alice@example.org"
    assert alice.entry.groups == {"developers"}
    bob = await found.authenticate("bob", slapd.PASSWORDS["bob"])
    assert bob.entry is not None and bob.entry.groups == {"developers", "portside-admins"}
    wrong = await found.authenticate("alice", "not-her-password")
    assert wrong.entry is None and not wrong.unknown
    assert (await found.authenticate("nobody", "whatever")).unknown
    # An empty password is never sent: the server would take it as an anonymous bind.
    empty = await found.authenticate("alice", "")
    assert empty.entry is None
    # The name is escaped in the filter: "alic*" is not a wildcard that finds alice.
    star = await found.authenticate("alic*", slapd.PASSWORDS["alice"])
    assert star.entry is None and star.unknown
    assert (await found.authenticate("*", slapd.PASSWORDS["alice"])).entry is None


async def test_an_answer_that_proves_nothing_refuses_without_calling_the_user_gone(
    directory: slapd.Directory,
) -> None:
    # A filter matching several entries: refused, not "unknown" (which disables the user).
    several = Directory(
        LdapSettings(
            **ldap_settings(directory, user_filter="(|(uid={username})(objectClass=person))")
        )
    )
    attempt = await several.authenticate("alice", slapd.PASSWORDS["alice"])
    assert attempt.entry is None and not attempt.unknown
    # An entry without the uid attribute: refused too.
    no_uid = Directory(LdapSettings(**ldap_settings(directory, uid_attribute="displayName")))
    attempt = await no_uid.authenticate("alice", slapd.PASSWORDS["alice"])
    assert attempt.entry is None and not attempt.unknown
    # A user_base that does not exist is the directory's (or the settings') fault.
    nowhere = Directory(
        LdapSettings(**ldap_settings(directory, user_base=f"ou=nowhere,{slapd.SUFFIX}"))
    )
    with pytest.raises(DirectoryUnavailable, match="the user search failed: noSuchObject"):
        await nowhere.authenticate("alice", slapd.PASSWORDS["alice"])


async def test_an_anonymous_search_bind_works(directory: slapd.Directory) -> None:
    settings = ldap_settings(directory)
    del settings["bind_dn"], settings["bind_password"]
    attempt = await Directory(LdapSettings(**settings)).authenticate(
        "carol", slapd.PASSWORDS["carol"]
    )
    assert attempt.entry is not None and attempt.entry.groups == frozenset()


# ldap3 leaves the socket of a refused TLS handshake to the garbage collector (a
# ResourceWarning raised where pytest sees it as unraisable): not Portside's socket.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_an_unreachable_or_untrusted_directory_is_a_clear_error(
    directory: slapd.Directory,
) -> None:
    untrusted = Directory(LdapSettings(**ldap_settings(directory, url=directory.ldaps_url)))
    with pytest.raises(DirectoryUnavailable, match="certificate verify failed"):
        await untrusted.authenticate("alice", slapd.PASSWORDS["alice"])
    wrong_service = Directory(LdapSettings(**ldap_settings(directory, bind_password="nope")))
    with pytest.raises(DirectoryUnavailable, match="refused Portside's own bind"):
        await wrong_service.authenticate("alice", slapd.PASSWORDS["alice"])
    directory.stop()
    down = Directory(LdapSettings(**ldap_settings(directory)))
    with pytest.raises(DirectoryUnavailable, match="cannot be reached"):
        await down.authenticate("alice", slapd.PASSWORDS["alice"])


# -- through the server -----------------------------------------------------------------------
def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Site:
    base: str
    http: aiohttp.ClientSession
    db: Database
    settings: Settings
    directory: slapd.Directory

    async def token(
        self, *scopes: str, user: str, password: str
    ) -> tuple[int, dict[str, Any], Any]:
        query = [("service", SERVICE), *(("scope", scope) for scope in scopes)]
        headers = {"Authorization": basic(user, password)}
        async with self.http.get(f"{self.base}/v2/token", params=query, headers=headers) as resp:
            return resp.status, await resp.json(), resp.headers

    async def access(self, *scopes: str, user: str, password: str) -> dict[str, list[str]]:
        status, body, _ = await self.token(*scopes, user=user, password=password)
        assert status == 200, body
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        return {item["name"]: item["actions"] for item in claims["access"]}

    async def user(self, name: str) -> Any:
        async with self.db.read() as session:
            return await store.user_by_name(session, name)

    async def teams_of(self, name: str) -> dict[str, Role]:
        async with self.db.read() as session:
            user = await store.require_user(session, name)
            principal = await store.principal_for(session, user)
            names = {team.id: team.name for team in await store.teams(session)}
        return {names[team]: role for team, role in principal.roles.items() if team in names}


async def seed(db: Database) -> None:
    async with db.write() as session:
        registry_id = await index_store.ensure_registry(session, f"http://{SERVICE}", NOW)
        await store.add_user(
            session, "root", NOW, registry_id=registry_id, password=ROOT_PASSWORD, admin=True
        )
        await store.add_user(session, "carol", NOW, registry_id=registry_id, password=CAROL_LOCAL)
        await store.add_team(session, "Developers", "root", NOW)
        await store.add_team(session, "Other", "root", NOW)
        await store.add_namespace(
            session, "devs", "Developers", Visibility.PRIVATE, NOW, registry_id=registry_id
        )


@pytest.fixture
async def site(database_url: str, directory: slapd.Directory) -> AsyncIterator[Site]:
    settings = make_settings(
        database_url,
        registry={"url": f"http://{SERVICE}"},
        auth={"session": {"max_failures": 5}, "ldap": ldap_settings(directory)},
    )
    async with Database(database_url) as db:
        await seed(db)
        async with (
            serving(create_app(settings), settings.server.port) as base,
            aiohttp.ClientSession() as http,
        ):
            yield Site(base, http, db, settings, directory)


DEVS = "repository:devs/app:pull,push"


async def test_a_directory_user_logs_in_on_the_page_and_is_created(site: Site) -> None:
    async with browser() as client:
        wrong = await log_in(client, site.base, "alice", "not-her-password")
        assert wrong.status == 401
        assert await site.user("alice") is None
        resp = await log_in(client, site.base, "alice", slapd.PASSWORDS["alice"], "/account")
        assert resp.status == 303 and resp.headers["Location"] == "/account"
        async with client.get(f"{site.base}/account", allow_redirects=False) as page:
            assert page.status == 200
            assert "My account: alice" in await page.text()
    alice = await site.user("alice")
    assert alice.ldap_name == slapd.user_dn("alice") and alice.password_hash is None
    assert alice.email == "alice@example.org" and alice.enabled and not alice.admin
    assert await site.teams_of("alice") == {"Developers": Role.CONTRIBUTOR}
    async with site.db.read() as session:
        personal = await store.namespace_by_name(session, "alice")
        failures = await session.scalar(
            select(LoginThrottle.failures).where(LoginThrottle.key == "user:alice")
        )
    assert personal is not None and personal.visibility == Visibility.PRIVATE
    assert failures is None  # the wrong password was counted, the login cleared it
    # bob is in the admin group: an admin; carol is a local account (below).
    async with browser() as client:
        assert (await log_in(client, site.base, "bob", slapd.PASSWORDS["bob"])).status == 303
    assert (await site.user("bob")).admin


async def test_wrong_directory_passwords_are_throttled(site: Site) -> None:
    async with browser() as client:
        for _ in range(5):
            assert (await log_in(client, site.base, "alice", "wrong-password")).status == 401
        resp = await log_in(client, site.base, "alice", slapd.PASSWORDS["alice"])
        assert resp.status == 429


async def test_the_token_server_takes_directory_passwords_and_follows_the_groups(
    site: Site,
) -> None:
    password = slapd.PASSWORDS["alice"]
    assert await site.access(DEVS, user="alice", password=password) == {
        "devs/app": ["pull", "push"]
    }
    async with site.db.write() as session:  # a team the directory does not map
        await store.set_member(session, "Other", "alice", Role.VIEWER, NOW)
    site.directory.remove_member("developers", "alice")
    assert await site.access(DEVS, user="alice", password=password) == {}
    assert await site.teams_of("alice") == {"Other": Role.VIEWER}
    site.directory.add_member("developers", "alice")
    assert await site.access(DEVS, user="alice", password=password) == {
        "devs/app": ["pull", "push"]
    }
    status, body, _ = await site.token(DEVS, user="alice", password="wrong-password")
    assert status == 401 and body["errors"][0]["code"] == "UNAUTHORIZED"
    # An admin group member removed from it is no admin at the next login.
    await site.access(DEVS, user="bob", password=slapd.PASSWORDS["bob"])
    assert (await site.user("bob")).admin
    site.directory.remove_member("portside-admins", "bob")
    await site.access(DEVS, user="bob", password=slapd.PASSWORDS["bob"])
    assert not (await site.user("bob")).admin


async def test_a_user_deleted_from_the_directory_loses_access(site: Site) -> None:
    password = slapd.PASSWORDS["alice"]
    await site.access(DEVS, user="alice", password=password)
    async with site.db.write() as session:
        _, personal_token = await store.add_token(session, "alice", "laptop", NOW)
    assert await site.access(DEVS, user="alice", password=personal_token) == {
        "devs/app": ["pull", "push"]
    }
    bearer = {"Authorization": f"Bearer {personal_token}"}
    async with site.http.post(f"{site.base}/api/v1/events/retry", json={}, headers=bearer) as r:
        assert r.status == 403  # the API knows her (by her token): she is no admin
    async with browser() as client:
        assert (await log_in(client, site.base, "alice", password, "/account")).status == 303
        site.directory.delete_user("alice")
        status, _, _ = await site.token(DEVS, user="alice", password=password)
        assert status == 401
        assert not (await site.user("alice")).enabled
        status, _, _ = await site.token(DEVS, user="alice", password=personal_token)
        assert status == 401
        async with site.http.post(
            f"{site.base}/api/v1/events/retry", json={}, headers=bearer
        ) as resp:
            assert resp.status == 401
        async with client.get(f"{site.base}/account", allow_redirects=False) as page:
            assert page.status == 303  # her session ended with her account
        assert (await log_in(client, site.base, "alice", password)).status == 401


async def test_a_local_account_is_never_taken_over_by_the_directory(site: Site) -> None:
    status, _, _ = await site.token(DEVS, user="carol", password=slapd.PASSWORDS["carol"])
    assert status == 401
    await site.access(DEVS, user="carol", password=CAROL_LOCAL)
    carol = await site.user("carol")
    assert carol.ldap_name is None and carol.enabled


async def test_a_directory_that_is_down_is_a_clear_error_and_local_accounts_work(
    site: Site,
) -> None:
    await site.access(DEVS, user="alice", password=slapd.PASSWORDS["alice"])
    async with site.db.write() as session:
        _, personal_token = await store.add_token(session, "alice", "laptop", NOW)
    site.directory.stop()
    status, body, headers = await site.token(DEVS, user="alice", password="any-password")
    assert status == 503 and headers["Retry-After"] == "30"
    assert body["errors"][0]["code"] == "UNAVAILABLE"
    assert "directory (LDAP) cannot be reached" in body["errors"][0]["message"]
    form = {"grant_type": "password", "username": "alice", "password": "x", "service": SERVICE}
    async with site.http.post(f"{site.base}/v2/token", data=form) as resp:
        assert resp.status == 503
        assert (await resp.json())["error"] == "temporarily_unavailable"
    async with browser() as client:
        down = await log_in(client, site.base, "alice", slapd.PASSWORDS["alice"])
        assert down.status == 503
        token = await _csrf(client, site.base)
        async with client.post(
            f"{site.base}/login",
            data={"csrf": token, "name": "alice", "password": "x", "next": "/"},
            allow_redirects=False,
        ) as page:
            assert "The directory (LDAP) cannot be reached" in await page.text()
        assert (await log_in(client, site.base, "root", ROOT_PASSWORD)).status == 303
    assert await site.access(DEVS, user="root", password=ROOT_PASSWORD) == {
        "devs/app": ["pull", "push"]
    }
    # A directory user's personal token is checked locally: it works while the user is enabled.
    assert await site.access(DEVS, user="alice", password=personal_token) == {
        "devs/app": ["pull", "push"]
    }
    async with site.db.read() as session:  # an outage is no failed guess
        failures = await session.scalar(
            select(LoginThrottle.failures).where(LoginThrottle.key == "user:alice")
        )
    assert failures is None


async def _csrf(client: aiohttp.ClientSession, base: str) -> str:
    from tests.integration.test_web_login import csrf_of

    return await csrf_of(client, f"{base}/login")
