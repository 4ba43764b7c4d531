"""Logging in to the pages in a real headless Chromium against a real server: the user's
name in the header and logging out; a form posted without its CSRF token refused; an
administrator adding a user and a team in the admin pages; a user's new personal token shown
once on "My account"; a failed event retried by an administrator's session (no token typed).
(What each user may see is tested with the reads.)"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from portside.accounts import store as accounts
from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import RegistryEvent
from portside.index.store import ensure_registry
from tests.e2e.ui_support import ADMIN, CHROMIUM, CHROMIUM_ARGS, Tab, _event, new_tab
from tests.integration.conftest import make_settings, serving
from tests.support import databases

module_loop = pytest.mark.asyncio(loop_scope="module")
ALICE = ("alice", "alice-password-1")
ROOT = ("root", "root-password-1")


@dataclass
class Site:
    base: str
    database_url: str
    failed_event: int

    async def event_status(self, event_id: int) -> str:
        async with Database(self.database_url) as db, db.read() as session:
            row = await session.get(RegistryEvent, event_id)
            assert row is not None
            return row.status


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("ui-login-template"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(template: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    url = databases.sqlite_clone(template, tmp_path_factory.mktemp("ui-login"))
    now = datetime.now(UTC)
    async with Database(url) as db, db.write() as session:
        registry_id = await ensure_registry(session, "http://registry.invalid", now)
        await accounts.add_user(session, ALICE[0], now, registry_id=registry_id, password=ALICE[1])
        await accounts.add_user(
            session, ROOT[0], now, registry_id=registry_id, password=ROOT[1], admin=True
        )
        failed = _event(1, now, status="failed", attempts=5, error="registry unreachable")
        session.add(failed)
        await session.flush()
        failed_id = failed.id
    settings = make_settings(url, api={"admin_tokens": [ADMIN]})
    async with serving(create_app(settings), settings.server.port) as base:
        yield Site(base, url, failed_id)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (make system-deps)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def tab(site: Site, browser: Browser) -> AsyncIterator[Tab]:
    opened = await new_tab(browser, site.base)
    yield opened
    await opened.page.context.close()
    opened.assert_clean()


async def log_in(tab: Tab, who: tuple[str, str], path: str = "/") -> None:
    page = await tab.open(path)
    await page.locator("#login-link").click()
    await page.get_by_label("User name").fill(who[0])
    await page.get_by_label("Password").fill(who[1])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#whoami")).to_have_text(who[0])


@module_loop
async def test_log_in_see_the_name_and_log_out(site: Site, tab: Tab) -> None:
    page = await tab.open("/")
    await expect(page.locator("#whoami")).to_have_count(0)
    await page.locator("#login-link").click()
    await page.get_by_label("User name").fill(ALICE[0])
    await page.get_by_label("Password").fill("not-her-password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#message")).to_have_text("Wrong user name or password.")
    await page.get_by_label("Password").fill(ALICE[1])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("h1")).to_have_text("Dashboard")
    await expect(page.locator("#whoami")).to_have_text("alice")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="Admin")).to_have_count(0)  # no admin
    cookies = await page.context.cookies()
    session = next(c for c in cookies if c["name"] == "portside_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator("#notice")).to_have_text("You are logged out.")
    await expect(page.locator("#whoami")).to_have_count(0)
    await tab.open("/account")
    await expect(page.locator("h1")).to_have_text("Log in")  # sent to the login first


@module_loop
async def test_a_form_without_its_csrf_token_is_refused(site: Site, tab: Tab) -> None:
    await log_in(tab, ALICE)
    page = tab.page
    await page.locator('form.logout input[name="csrf"]').evaluate("field => field.remove()")
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator("h1")).to_have_text("Form refused")
    await expect(page.locator(".message")).to_contain_text("CSRF token is missing or wrong")
    await expect(page.locator("#whoami")).to_have_text("alice")  # still logged in
    await tab.open("/account")
    await page.locator('#new-token-form input[name="csrf"]').evaluate(
        "field => { field.value = 'forged' }"
    )
    await page.get_by_label("Token name").fill("forged")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.locator("h1")).to_have_text("Form refused")
    await tab.open("/account")
    await expect(page.locator("#tokens-panel .empty")).to_have_text("No tokens.")


@module_loop
async def test_an_admin_adds_a_user_and_a_team(site: Site, tab: Tab) -> None:
    await log_in(tab, ROOT)
    page = tab.page
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    await expect(page.locator("h1")).to_have_text("Users")
    form = page.locator("#add-user")
    await form.get_by_label("User name").fill("carol")
    await form.get_by_label("Password", exact=True).fill("carol-password-1")
    await form.get_by_role("button", name="Add user").click()
    await expect(page.locator("#notice")).to_have_text("Added.")
    await expect(page.locator('tr[data-user="carol"] td').nth(1)).to_have_text("user")

    admin_nav = page.get_by_role("navigation", name="Administration")
    await admin_nav.get_by_role("link", name="Teams").click()
    form = page.locator("#add-team")
    await form.get_by_label("Team name").fill("Shop")
    await form.get_by_label("Owner").fill("carol")
    await form.get_by_role("button", name="Add team").click()
    await expect(page.locator("#notice")).to_have_text("Added.")
    await page.locator('tr[data-team="Shop"]').get_by_role("link", name="Shop").click()
    await expect(page.locator("h1")).to_have_text("Team Shop")
    form = page.locator("#add-member")
    await form.get_by_label("User").fill("alice")
    await form.get_by_label("Role").select_option("contributor")
    await form.get_by_role("button", name="Add member").click()
    await expect(page.locator('tr[data-member="alice"] .role')).to_have_text("contributor")
    await expect(page.locator('tr[data-member="carol"] .role')).to_have_text("owner")


@module_loop
async def test_my_new_token_is_shown_once(site: Site, tab: Tab) -> None:
    await log_in(tab, ALICE)
    page = tab.page
    await page.locator("#whoami").click()
    await expect(page.locator("h1")).to_have_text("My account: alice")
    await page.get_by_label("Token name").fill("laptop")
    await page.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token")
    await expect(shown).to_contain_text(accounts.TOKEN_PREFIX)
    plain = (await shown.inner_text()).strip()
    assert plain.startswith(accounts.TOKEN_PREFIX)
    await expect(page.locator('tr[data-token="laptop"]')).to_have_count(1)
    await tab.open("/account")
    await expect(page.locator("#new-token")).to_have_count(0)
    assert plain not in await page.content()  # only once
    async with Database(site.database_url) as db, db.write() as session:
        owner = await accounts.user_for_token(session, plain, datetime.now(UTC))
        assert owner is not None and owner.name == "alice"


@module_loop
async def test_an_admin_session_retries_a_failed_event(site: Site, tab: Tab) -> None:
    await log_in(tab, ROOT, "/events?status=failed")
    page = tab.page
    await page.goto(f"{site.base}/events?status=failed")
    await expect(page.get_by_label("Admin token")).to_have_count(0)  # the session is enough
    await (
        page.locator(f'tr[data-event="{site.failed_event}"]')
        .get_by_role("button", name="Retry")
        .click()
    )
    await expect(page.locator("#notice")).to_have_text("1 event queued again.")
    assert await site.event_status(site.failed_event) == "fresh"


@module_loop
async def test_log_out_everywhere_ends_my_other_browser(site: Site, browser: Browser) -> None:
    here, elsewhere = await new_tab(browser, site.base), await new_tab(browser, site.base)
    try:
        await log_in(here, ALICE)
        await log_in(elsewhere, ALICE)
        page = await here.open("/account")
        await page.get_by_role("button", name="Log out everywhere else").click()
        await expect(page.locator("#notice")).to_have_text("Your other sessions were logged out.")
        await here.open("/account")
        await expect(here.page.locator("h1")).to_have_text("My account: alice")  # this one stays
        await elsewhere.open("/account")
        await expect(elsewhere.page.locator("h1")).to_have_text("Log in")
        await expect(elsewhere.page.locator("#whoami")).to_have_count(0)
    finally:
        for tab in (here, elsewhere):
            await tab.page.context.close()
            tab.assert_clean()
