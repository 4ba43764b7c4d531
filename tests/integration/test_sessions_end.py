"""Ending a user's login sessions, through a real server on both databases: a password change
(on my account page, by an admin on the admin page or the API, by `portside user password`)
and "log out everywhere" log out the user's other sessions; the session that made the change
stays logged in; personal tokens keep working."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from portside.accounts import store as accounts
from tests.integration.test_web_login import (
    ALICE_PASSWORD,
    ROOT_PASSWORD,
    Site,
    browser,
    csrf_of,
    log_in,
    running,
)

PORTSIDE = str(Path(sys.executable).parent / "portside")
NEW_PASSWORD = "alice-new-password-2"


async def logged_in(client: aiohttp.ClientSession, site: Site) -> bool:
    async with client.get(f"{site.base}/account", allow_redirects=False) as page:
        assert page.status in (200, 303), await page.text()
        return page.status == 200


async def session_of(site: Site, name: str, password: str) -> aiohttp.ClientSession:
    client = browser()
    resp = await log_in(client, site.base, name, password)
    assert resp.status == 303
    assert await logged_in(client, site)
    return client


async def token_works(site: Site, token: str) -> bool:
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"{site.base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        return resp.status == 200 and (await resp.json())["name"] is not None


async def generation(site: Site, name: str) -> int:
    async with site.db.read() as session:
        return (await accounts.require_user(session, name)).session_generation


@pytest.mark.asyncio
async def test_changing_my_password_logs_out_my_other_sessions(database_url: str) -> None:
    async with running(database_url) as site:
        here = await session_of(site, "alice", ALICE_PASSWORD)
        elsewhere = await session_of(site, "alice", ALICE_PASSWORD)
        root = await session_of(site, "root", ROOT_PASSWORD)
        try:
            token = await csrf_of(here, f"{site.base}/account")
            form = {
                "csrf": token,
                "current": ALICE_PASSWORD,
                "password": NEW_PASSWORD,
                "again": NEW_PASSWORD,
            }
            async with here.post(f"{site.base}/account/password", data=form) as resp:
                assert resp.status == 200
                assert "Your other sessions were logged out." in await resp.text()
            assert await logged_in(here, site)  # the session that changed it stays
            assert not await logged_in(elsewhere, site)
            assert await logged_in(root, site)  # another user's session is not touched
            assert await token_works(site, site.plain_token)  # tokens have their own revocation
            # The logged-out browser sees the login form, not a redirect back to the page.
            async with elsewhere.get(f"{site.base}/login", allow_redirects=False) as page:
                assert page.status == 200 and 'name="password"' in await page.text()
            again = await log_in(elsewhere, site.base, "alice", NEW_PASSWORD)
            assert again.status == 303 and await logged_in(elsewhere, site)
            # A wrong current password changes nothing and ends nothing.
            before = await generation(site, "alice")
            wrong = {**form, "csrf": token, "current": "not-the-password"}
            async with here.post(f"{site.base}/account/password", data=wrong) as resp:
                assert resp.status == 400
            assert await generation(site, "alice") == before
            assert await logged_in(elsewhere, site)
        finally:
            for client in (here, elsewhere, root):
                await client.close()


@pytest.mark.asyncio
async def test_log_out_everywhere_keeps_this_session_and_the_tokens(database_url: str) -> None:
    async with running(database_url) as site:
        here = await session_of(site, "alice", ALICE_PASSWORD)
        elsewhere = await session_of(site, "alice", ALICE_PASSWORD)
        try:
            async with here.get(f"{site.base}/account") as page:
                assert 'id="log-out-everywhere"' in await page.text()
            async with here.post(
                f"{site.base}/account/sessions", data={}, allow_redirects=False
            ) as resp:
                assert resp.status == 403  # without its CSRF token: nothing ends
            assert await logged_in(elsewhere, site)
            token = await csrf_of(here, f"{site.base}/account")
            async with here.post(
                f"{site.base}/account/sessions", data={"csrf": token}, allow_redirects=False
            ) as resp:
                assert resp.status == 303
                assert resp.headers["Location"] == "/account?done=sessions"
            assert await logged_in(here, site)
            assert not await logged_in(elsewhere, site)
            assert await token_works(site, site.plain_token)
            # The old password still logs in: only the sessions ended.
            assert (await log_in(elsewhere, site.base, "alice", ALICE_PASSWORD)).status == 303
            # This session's forms keep working after it (same CSRF token).
            form = {"csrf": token, "action": "create", "name": "after"}
            async with here.post(f"{site.base}/account/tokens", data=form) as resp:
                assert resp.status == 200 and 'id="new-token"' in await resp.text()
        finally:
            await here.close()
            await elsewhere.close()


@pytest.mark.asyncio
async def test_an_admins_reset_ends_the_users_sessions_not_the_admins(database_url: str) -> None:
    async with running(database_url) as site:
        alice = await session_of(site, "alice", ALICE_PASSWORD)
        admin = await session_of(site, "root", ROOT_PASSWORD)
        admin_elsewhere = await session_of(site, "root", ROOT_PASSWORD)
        try:
            token = await csrf_of(admin, f"{site.base}/admin/users")
            reset = {"csrf": token, "action": "password", "password": NEW_PASSWORD}
            async with admin.post(
                f"{site.base}/admin/users/alice", data=reset, allow_redirects=False
            ) as resp:
                assert resp.status == 303
            assert not await logged_in(alice, site)
            assert await logged_in(admin, site) and await logged_in(admin_elsewhere, site)
            # The admin's own password, reset on the admin page: the admin's page stays.
            own = {**reset, "password": "root-new-password-2"}
            async with admin.post(
                f"{site.base}/admin/users/root", data=own, allow_redirects=False
            ) as resp:
                assert resp.status == 303
            assert await logged_in(admin, site)
            assert not await logged_in(admin_elsewhere, site)
            # And through the API by session (with its CSRF header): that session stays too.
            assert (await log_in(alice, site.base, "alice", NEW_PASSWORD)).status == 303
            async with admin.patch(
                f"{site.base}/api/v1/users/root",
                json={"password": "root-new-password-3"},
                headers={"X-CSRF-Token": token},
            ) as resp:
                assert resp.status == 200, await resp.text()
            async with admin.patch(
                f"{site.base}/api/v1/users/alice",
                json={"password": ALICE_PASSWORD},
                headers={"X-CSRF-Token": token},
            ) as resp:
                assert resp.status == 200, await resp.text()
            assert await logged_in(admin, site)
            assert not await logged_in(alice, site)
        finally:
            for client in (alice, admin, admin_elsewhere):
                await client.close()


@pytest.mark.asyncio
async def test_a_password_set_on_the_command_line_ends_every_session(database_url: str) -> None:
    async with running(database_url) as site:
        one = await session_of(site, "alice", ALICE_PASSWORD)
        two = await session_of(site, "alice", ALICE_PASSWORD)
        try:
            process = await asyncio.create_subprocess_exec(
                PORTSIDE,
                "user",
                "password",
                "alice",
                "--password-stdin",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={
                    "PATH": "/usr/bin:/bin",
                    "PORTSIDE_DATABASE_URL": database_url,
                    "PORTSIDE_LOG_LEVEL": "warning",
                    "PORTSIDE_VULNDB__ENABLED": "false",
                },
            )
            out, err = await asyncio.wait_for(
                process.communicate(NEW_PASSWORD.encode() + b"\n"), timeout=60
            )
            assert process.returncode == 0, err.decode()
            assert out.decode() == "password of alice set\n"
            assert not await logged_in(one, site)
            assert not await logged_in(two, site)
            assert await token_works(site, site.plain_token)
            assert (await log_in(one, site.base, "alice", ALICE_PASSWORD)).status == 401
            assert (await log_in(one, site.base, "alice", NEW_PASSWORD)).status == 303
        finally:
            await one.close()
            await two.close()
