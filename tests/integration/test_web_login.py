"""Logins through a real server on both databases: the session cookie, logging out, a
disabled user's session, CSRF on forms and on the API, login throttling, the admission of
personal tokens and sessions to the API, the account and admin pages' forms."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from portside.accounts import store as accounts
from portside.app import create_app
from portside.db.engine import Database
from portside.index.store import ensure_registry
from tests.integration.conftest import make_settings, serving

ADMIN_TOKEN = "admin-s3cret"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ALICE_PASSWORD = "alice-password-1"
ROOT_PASSWORD = "root-password-1"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    base: str
    db: Database
    plain_token: str  # alice's personal token
    admin_plain_token: str  # root's


async def seed(db: Database) -> tuple[str, str]:
    async with db.write() as session:
        registry_id = await ensure_registry(session, "http://r", NOW)
        await accounts.add_user(
            session, "alice", NOW, registry_id=registry_id, password=ALICE_PASSWORD
        )
        await accounts.add_user(
            session, "root", NOW, registry_id=registry_id, password=ROOT_PASSWORD, admin=True
        )
        _, plain = await accounts.add_token(session, "alice", "laptop", NOW)
        _, admin_plain = await accounts.add_token(session, "root", "ci", NOW)
    return plain, admin_plain


@asynccontextmanager
async def running(database_url: str, **overrides: Any) -> AsyncIterator[Site]:
    api = {"admin_tokens": [ADMIN_TOKEN], **overrides.pop("api", {})}
    settings = make_settings(database_url, api=api, **overrides)
    async with Database(database_url) as db:
        plain, admin_plain = await seed(db)
        async with serving(create_app(settings), settings.server.port) as base:
            yield Site(base, db, plain, admin_plain)


def browser() -> aiohttp.ClientSession:
    """A client that keeps cookies for 127.0.0.1 and does not follow redirects by itself."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def csrf_of(client: aiohttp.ClientSession, url: str) -> str:
    async with client.get(url, allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
        found = CSRF_FIELD.search(await resp.text())
    assert found is not None
    return found.group(1)


async def log_in(
    client: aiohttp.ClientSession, base: str, name: str, password: str, next_path: str = "/"
) -> aiohttp.ClientResponse:
    token = await csrf_of(client, f"{base}/login")
    form = {"csrf": token, "name": name, "password": password, "next": next_path}
    async with client.post(f"{base}/login", data=form, allow_redirects=False) as resp:
        await resp.read()
        return resp


@pytest.mark.asyncio
async def test_log_in_see_the_name_and_log_out(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        wrong = await log_in(client, site.base, "alice", "not-her-password")
        assert wrong.status == 401
        resp = await log_in(client, site.base, "alice", ALICE_PASSWORD, "/account")
        assert resp.status == 303 and resp.headers["Location"] == "/account"
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith("portside_session=")
        assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
        assert "secure" not in cookie.lower()  # plain http on loopback
        assert f"Max-Age={12 * 3600}" in cookie
        async with client.get(f"{site.base}/", allow_redirects=False) as page:
            body = await page.text()
            assert 'id="whoami"' in body and ">alice</a>" in body
        async with client.get(f"{site.base}/account", allow_redirects=False) as page:
            assert page.status == 200
            assert "My account: alice" in await page.text()
        token = await csrf_of(client, f"{site.base}/account")
        async with client.post(f"{site.base}/logout", data={}, allow_redirects=False) as out:
            assert out.status == 403  # without its CSRF token
        async with client.post(
            f"{site.base}/logout", data={"csrf": token}, allow_redirects=False
        ) as out:
            assert out.status == 303 and out.headers["Location"] == "/login?out=1"
        async with client.get(f"{site.base}/account", allow_redirects=False) as page:
            assert page.status == 303
            assert page.headers["Location"] == "/login?next=/account"


@pytest.mark.asyncio
async def test_next_leads_only_to_this_server(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        resp = await log_in(client, site.base, "alice", ALICE_PASSWORD, "//evil.example/x")
        assert resp.status == 303 and resp.headers["Location"] == "/"


@pytest.mark.asyncio
async def test_a_disabled_users_session_stops_working(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        await log_in(client, site.base, "alice", ALICE_PASSWORD)
        async with client.get(f"{site.base}/account", allow_redirects=False) as page:
            assert page.status == 200
        async with site.db.write() as session:
            await accounts.set_enabled(session, "alice", False, NOW)
        async with client.get(f"{site.base}/account", allow_redirects=False) as page:
            assert page.status == 303


@pytest.mark.asyncio
async def test_forms_without_their_csrf_token_are_refused(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        form = {"name": "alice", "password": ALICE_PASSWORD}
        async with client.post(f"{site.base}/login", data=form, allow_redirects=False) as resp:
            assert resp.status == 403
            assert "CSRF token is missing or wrong" in await resp.text()
            assert "Set-Cookie" not in resp.headers  # not logged in
        await log_in(client, site.base, "alice", ALICE_PASSWORD)
        forged = {"csrf": "x" * 43, "action": "create", "name": "forged"}
        async with client.post(
            f"{site.base}/account/tokens", data=forged, allow_redirects=False
        ) as resp:
            assert resp.status == 403
        async with site.db.read() as session:
            assert [t.name for t in await accounts.tokens_of(session, "alice")] == ["laptop"]


@pytest.mark.asyncio
async def test_the_token_from_before_the_login_is_not_kept(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        before = await csrf_of(client, f"{site.base}/login")
        await log_in(client, site.base, "alice", ALICE_PASSWORD)
        after = await csrf_of(client, f"{site.base}/account")
        assert before != after
        stale = {"csrf": before, "action": "create", "name": "stale"}
        async with client.post(
            f"{site.base}/account/tokens", data=stale, allow_redirects=False
        ) as resp:
            assert resp.status == 403


@pytest.mark.asyncio
async def test_failed_logins_are_throttled(database_url: str) -> None:
    session_settings = {"session": {"max_failures": 3, "throttle_window": 600}}
    async with running(database_url, auth=session_settings) as site, browser() as client:
        for _ in range(3):
            assert (await log_in(client, site.base, "alice", "wrong-password")).status == 401
        blocked = await log_in(client, site.base, "alice", ALICE_PASSWORD)
        assert blocked.status == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= 600
        # The address is throttled too: another user's right password from it waits.
        assert (await log_in(client, site.base, "root", ROOT_PASSWORD)).status == 429
        async with client.get(f"{site.base}/account", allow_redirects=False) as page:
            assert page.status == 303  # nobody got in


@pytest.mark.asyncio
async def test_a_success_resets_the_users_count(database_url: str) -> None:
    session_settings = {"session": {"max_failures": 3, "throttle_window": 600}}
    async with running(database_url, auth=session_settings) as site:
        async with browser() as client:
            for _ in range(2):
                assert (await log_in(client, site.base, "alice", "wrong-password")).status == 401
            assert (await log_in(client, site.base, "alice", ALICE_PASSWORD)).status == 303
        from portside.accounts import throttle

        async with site.db.read() as session:
            limits = throttle.Limits(3, 600)
            now = datetime.now(UTC)
            assert await throttle.blocked_for(session, ["user:alice"], now, limits) is None
            from sqlalchemy import select

            from portside.db.models import LoginThrottle

            keys = set(await session.scalars(select(LoginThrottle.key)))
        assert keys == {"addr:127.0.0.1"}  # the address keeps its count


# -- the API ------------------------------------------------------------------------------------
RETRY = "/api/v1/events/retry"


@pytest.mark.asyncio
async def test_the_api_admits_personal_tokens_to_the_handlers(database_url: str) -> None:
    async with running(database_url) as site, aiohttp.ClientSession() as client:
        async with client.post(f"{site.base}{RETRY}", json={}) as resp:
            assert resp.status == 401  # no credential at all: answered before the handler
            assert "needs a credential" in (await resp.json())["error"]["message"]
        alice = {"Authorization": f"Bearer {site.plain_token}"}
        async with client.post(f"{site.base}{RETRY}", json={}, headers=alice) as resp:
            assert resp.status == 403  # the handler decides: alice is no admin
            assert "admins only" in (await resp.json())["error"]["message"]
        root = {"Authorization": f"Bearer {site.admin_plain_token}"}
        async with client.post(f"{site.base}{RETRY}", json={}, headers=root) as resp:
            assert resp.status == 202, await resp.text()
        async with client.post(
            f"{site.base}{RETRY}", data=io.BytesIO(b"x" * (2 * 1024 * 1024)), headers=root
        ) as resp:
            assert resp.status == 413  # still bounded
        bogus = {"Authorization": "Bearer pst_not-a-token"}
        async with client.post(f"{site.base}{RETRY}", json={}, headers=bogus) as resp:
            assert resp.status == 401


@pytest.mark.asyncio
async def test_api_calls_by_session_need_the_csrf_header(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        async with client.post(
            f"{site.base}{RETRY}", json={}, headers={"Cookie": "portside_session=forged"}
        ) as resp:
            assert resp.status == 401  # a cookie gets past the door, not past the handler
        await log_in(client, site.base, "root", ROOT_PASSWORD)
        async with client.get(f"{site.base}/api/v1/status") as resp:
            assert resp.status == 200  # reads need no CSRF token
        async with client.post(f"{site.base}{RETRY}", json={}) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "csrf"
        token = await csrf_of(client, f"{site.base}/account")
        async with client.post(
            f"{site.base}{RETRY}", json={}, headers={"X-CSRF-Token": token}
        ) as resp:
            assert resp.status == 202, await resp.text()


# -- account and admin pages ----------------------------------------------------------------------
@pytest.mark.asyncio
async def test_my_account_creates_a_token_shown_once_and_revokes_it(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        await log_in(client, site.base, "alice", ALICE_PASSWORD)
        token = await csrf_of(client, f"{site.base}/account")
        form = {"csrf": token, "action": "create", "name": "build", "days": "30"}
        async with client.post(f"{site.base}/account/tokens", data=form) as resp:
            body = await resp.text()
        shown = re.search(r'id="new-token">(pst_[^<]+)<', body)
        assert shown is not None
        async with client.get(f"{site.base}/account") as resp:
            assert shown.group(1) not in await resp.text()
        async with site.db.write() as session:
            user = await accounts.user_for_token(session, shown.group(1), datetime.now(UTC))
            assert user is not None and user.name == "alice"
        form = {"csrf": token, "action": "revoke", "name": "build"}
        async with client.post(f"{site.base}/account/tokens", data=form) as resp:
            assert "The token was revoked" in await resp.text()
        async with site.db.write() as session:
            assert await accounts.user_for_token(session, shown.group(1), NOW) is None


@pytest.mark.asyncio
async def test_changing_my_password_needs_the_current_one(database_url: str) -> None:
    async with running(database_url) as site, browser() as client:
        await log_in(client, site.base, "alice", ALICE_PASSWORD)
        token = await csrf_of(client, f"{site.base}/account")
        wrong = {"csrf": token, "current": "nope", "password": "new-pass-1", "again": "new-pass-1"}
        async with client.post(f"{site.base}/account/password", data=wrong) as resp:
            assert resp.status == 400
        right = {**wrong, "current": ALICE_PASSWORD}
        async with client.post(f"{site.base}/account/password", data=right) as resp:
            assert resp.status == 200 and "Your password was changed." in await resp.text()
        async with site.db.write() as session:
            assert await accounts.authenticate(session, "alice", "new-pass-1", NOW) is not None


@pytest.mark.asyncio
async def test_admin_pages_are_for_admins_and_team_owners(database_url: str) -> None:
    async with running(database_url) as site:
        async with browser() as client:
            async with client.get(f"{site.base}/admin/users", allow_redirects=False) as resp:
                assert resp.status == 303  # to the login
            await log_in(client, site.base, "alice", ALICE_PASSWORD)
            async with client.get(f"{site.base}/admin/users", allow_redirects=False) as resp:
                assert resp.status == 403
        async with browser() as client:
            await log_in(client, site.base, "root", ROOT_PASSWORD)
            token = await csrf_of(client, f"{site.base}/admin/users")
            add = {"csrf": token, "name": "bob", "password": "bob-password-1"}
            async with client.post(f"{site.base}/admin/users", data=add) as resp:
                assert resp.status == 200 and 'data-user="bob"' in await resp.text()
            again = await client.post(f"{site.base}/admin/users", data=add)
            assert again.status == 400 and "exists already" in await again.text()
            team = {"csrf": token, "name": "Shop", "owner": "alice", "description": "the shop"}
            async with client.post(f"{site.base}/admin/teams", data=team) as resp:
                assert resp.status == 200 and 'data-team="Shop"' in await resp.text()
            namespace = {
                "csrf": token,
                "action": "add",
                "namespace": "shop",
                "team": "Shop",
                "visibility": "protected",
            }
            async with client.post(f"{site.base}/admin/namespaces", data=namespace) as resp:
                assert resp.status == 200 and 'data-namespace="shop"' in await resp.text()
        async with browser() as client:  # alice owns Shop: she manages it and its namespace
            await log_in(client, site.base, "alice", ALICE_PASSWORD)
            token = await csrf_of(client, f"{site.base}/admin/teams/Shop")
            member = {"csrf": token, "action": "set", "user": "bob", "role": "viewer"}
            async with client.post(f"{site.base}/admin/teams/Shop", data=member) as resp:
                assert resp.status == 200 and 'data-member="bob"' in await resp.text()
            public = {"csrf": token, "action": "set", "namespace": "shop", "visibility": "public"}
            async with client.post(f"{site.base}/admin/namespaces", data=public) as resp:
                assert resp.status == 200
            add = {**public, "action": "add", "namespace": "other", "team": "Shop"}
            async with client.post(f"{site.base}/admin/namespaces", data=add) as resp:
                assert resp.status == 403
        async with site.db.read() as session:
            rule = await accounts.namespace_rule(session, "shop")
            assert rule is not None and rule.visibility.value == "public"
            roles = {m.user: m.role.value for m in await accounts.members(session, "Shop")}
            assert roles == {"alice": "owner", "bob": "viewer"}


@pytest.mark.asyncio
async def test_a_login_opens_closed_reads(database_url: str) -> None:
    """Not logged in on a closed bind: the public namespaces only, and a login link."""
    closed = {"anonymous_reads": False}
    async with running(database_url, api=closed) as site, browser() as client:
        async with client.get(f"{site.base}/", allow_redirects=False) as resp:
            assert resp.status == 200
            body = await resp.text()
            assert 'id="public-only"' in body and 'id="login-link"' in body
        await log_in(client, site.base, "alice", ALICE_PASSWORD)
        async with client.get(f"{site.base}/", allow_redirects=False) as resp:
            body = await resp.text()
            assert resp.status == 200 and ">alice</a>" in body
            assert 'id="public-only"' not in body


@pytest.mark.asyncio
async def test_guessing_the_current_password_is_throttled(database_url: str) -> None:
    session_settings = {"session": {"max_failures": 2, "throttle_window": 600}}
    async with running(database_url, auth=session_settings) as site, browser() as client:
        await log_in(client, site.base, "alice", ALICE_PASSWORD)
        token = await csrf_of(client, f"{site.base}/account")
        guess = {"csrf": token, "current": "guess", "password": "new-pass-1", "again": "new-pass-1"}
        for _ in range(2):
            async with client.post(f"{site.base}/account/password", data=guess) as resp:
                assert "The current password is wrong" in await resp.text()
        right = {**guess, "current": ALICE_PASSWORD}
        async with client.post(f"{site.base}/account/password", data=right) as resp:
            assert resp.status == 400 and "Too many wrong passwords" in await resp.text()
        async with site.db.write() as session:
            assert await accounts.authenticate(session, "alice", ALICE_PASSWORD, NOW) is not None
