"""LDAP logins end to end, with Debian's slapd (tests/support/ldap.py): skopeo pushing and
pulling through Debian's docker-registry with Portside's token server and directory passwords,
a user removed from the group losing the team's access, a local admin's push while the
directory is down; and a directory user logging in to the pages in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from playwright.async_api import Browser, async_playwright, expect

from portside.accounts import store
from portside.accounts.vocabulary import Visibility
from portside.app import create_app
from portside.db.engine import Database
from portside.index import store as index_store
from tests.e2e.conftest import portside, portside_env
from tests.e2e.test_processes import start, stop, wait_http
from tests.e2e.test_token_server import Setup
from tests.e2e.ui_support import CHROMIUM, CHROMIUM_ARGS, Tab, new_tab
from tests.integration.conftest import make_settings, serving
from tests.support import databases
from tests.support import ldap as slapd
from tests.support.net import free_port
from tests.support.oci import Layout
from tests.support.registry import running_registry

ROOT_PASSWORD = "root-local-password"
WEBHOOK = "hook-s3cret"


def ldap_settings(directory: slapd.Directory) -> dict[str, Any]:
    return {
        "url": directory.url,
        "start_tls": True,
        "ca_file": str(directory.pki.ca),
        "bind_dn": slapd.SERVICE_DN,
        "bind_password": slapd.SERVICE_PASSWORD,
        "user_base": slapd.PEOPLE,
        "group_base": slapd.GROUPS,
        "groups": {"developers": {"team": "Developers", "role": "contributor"}},
        "admin_group": "portside-admins",
        "timeout": 5,
    }


async def seed(url: str, registry_url: str) -> None:
    """root, a local admin, owns team Developers and its private namespace devs."""
    now = datetime.now(UTC)
    async with Database(url) as db, db.write() as session:
        registry_id = await index_store.ensure_registry(session, registry_url, now)
        await store.add_user(
            session, "root", now, registry_id=registry_id, password=ROOT_PASSWORD, admin=True
        )
        await store.add_team(session, "Developers", "root", now)
        await store.add_namespace(
            session, "devs", "Developers", Visibility.PRIVATE, now, registry_id=registry_id
        )


@dataclass
class LdapSetup:
    registry: Setup
    directory: slapd.Directory


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[LdapSetup]:
    port, registry_port = free_port(), free_port()
    registry_url = f"http://127.0.0.1:{registry_port}"
    database_url = f"sqlite:///{tmp_path / 'portside.db'}"
    with slapd.running_directory(tmp_path / "slapd") as directory:
        config = tmp_path / "portside.yaml"
        config.write_text(yaml.safe_dump({"auth": {"ldap": ldap_settings(directory)}}))
        env = portside_env(
            PORTSIDE_CONFIG=str(config),
            PORTSIDE_DATABASE_URL=database_url,
            PORTSIDE_REGISTRY__URL=registry_url,
            PORTSIDE_SERVER__PORT=str(port),
            PORTSIDE_NOTIFICATIONS__TOKENS=json.dumps([WEBHOOK]),
        )
        assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
        asyncio.run(seed(database_url, registry_url))
        printed = portside(
            "registry-config", "--url", f"http://127.0.0.1:{port}", env=env, cwd=tmp_path
        )
        assert printed.returncode == 0, printed.stderr
        fragment = yaml.safe_load(printed.stdout)
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image({"hello": b"ldap"})
        layout.tag(image, "1.0")
        with running_registry(tmp_path / "registry", port=registry_port, extra=fragment):
            server = start("serve", env=env, cwd=tmp_path)
            try:
                wait_http(f"http://127.0.0.1:{port}/healthz")
                registry = Setup(
                    tmp_path, env, database_url, f"127.0.0.1:{registry_port}", layout.path, ""
                )
                yield LdapSetup(registry, directory)
            finally:
                assert stop(server) == 0
    for log in tmp_path.glob("serve-*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_skopeo_pushes_and_pulls_with_directory_passwords(setup: LdapSetup) -> None:
    registry, directory = setup.registry, setup.directory
    alice = f"alice:{slapd.PASSWORDS['alice']}"
    carol = f"carol:{slapd.PASSWORDS['carol']}"
    # alice is in the developers group: a contributor of Developers, created at this request.
    assert registry.push("devs/app", alice)
    assert registry.pull("devs/app", alice)
    assert registry.push("alice/own", alice)  # her personal namespace
    assert not registry.push("devs/app", "alice:not-her-password")
    # carol is in no mapped group: the private namespace is not hers.
    assert not registry.pull("devs/app", carol)
    assert not registry.push("devs/app", carol)
    # Removed from the group: the team's access is gone at her next token request.
    directory.remove_member("developers", "alice")
    assert not registry.pull("devs/app", alice)
    assert not registry.push("devs/app", alice)
    assert registry.pull("alice/own", alice)  # still her own namespace
    # The directory down: directory users cannot get a token; the local admin can.
    directory.stop()
    assert not registry.pull("alice/own", alice)
    assert registry.push("devs/other", f"root:{ROOT_PASSWORD}")
    assert registry.pull("devs/app", f"root:{ROOT_PASSWORD}")


# -- the pages in Chromium --------------------------------------------------------------------
@dataclass
class Site:
    base: str
    directory: slapd.Directory


@pytest_asyncio.fixture(loop_scope="function")
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    (tmp_path / "template").mkdir()
    url = databases.sqlite_clone(databases.sqlite_template(tmp_path / "template"), tmp_path)
    await seed(url, "http://registry.invalid")
    with slapd.running_directory(tmp_path / "slapd") as directory:
        settings = make_settings(
            url,
            registry={"url": "http://registry.invalid"},
            auth={"ldap": ldap_settings(directory)},
        )
        async with serving(create_app(settings), settings.server.port) as base:
            yield Site(base, directory)


@pytest_asyncio.fixture(loop_scope="function")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (make system-deps)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def log_in(tab: Tab, name: str, password: str) -> Any:
    page = await tab.open("/")
    await page.locator("#login-link").click()
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    return page


async def test_a_directory_user_logs_in_to_the_pages(site: Site, browser: Browser) -> None:
    tab = await new_tab(browser, site.base)
    try:
        page = await log_in(tab, "alice", "not-her-password")
        await expect(page.locator("#message")).to_have_text("Wrong user name or password.")
        await page.get_by_label("Password").fill(slapd.PASSWORDS["alice"])
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("#whoami")).to_have_text("alice")
        nav = page.get_by_role("navigation", name="Main")
        await expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
        await page.get_by_role("button", name="Log out").click()
        await expect(page.locator("#whoami")).to_have_count(0)
        # bob is in the directory's admin group: an administrator in Portside.
        page = await log_in(tab, "bob", slapd.PASSWORDS["bob"])
        await expect(page.locator("#whoami")).to_have_text("bob")
        await expect(nav.get_by_role("link", name="Admin")).to_have_count(1)
        await page.get_by_role("button", name="Log out").click()
        # The directory down: said so; the local admin still logs in.
        site.directory.stop()
        page = await log_in(tab, "alice", slapd.PASSWORDS["alice"])
        await expect(page.locator("#message")).to_contain_text(
            "The directory (LDAP) cannot be reached"
        )
        page = await log_in(tab, "root", ROOT_PASSWORD)
        await expect(page.locator("#whoami")).to_have_text("root")
    finally:
        await tab.page.context.close()
    tab.assert_clean()
