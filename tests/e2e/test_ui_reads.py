"""The pages in a real headless Chromium show each reader only what it may see: "a viewer sees
neither the private namespace nor its counts". The readers log in with a personal token that
Chromium sends on every request (``Authorization: Bearer pst_...`` as an extra header), so the
test needs no login page; the server binds a closed address (``api.anonymous_reads`` off)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from portside.app import create_app
from portside.db.engine import Database
from tests.e2e.ui_support import CHROMIUM, CHROMIUM_ARGS, Tab, new_tab
from tests.integration.conftest import make_settings, serving
from tests.support import databases
from tests.support.readers import ADMIN, REPOSITORIES, SEES, World, expected_summary, seed

module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    root = tmp_path_factory.mktemp("ui-reads")
    url = databases.sqlite_clone(databases.sqlite_template(root), root)
    found = World("", "", {})
    async with Database(url) as db:
        tokens = await seed(db, found)
    found.headers = {
        "anonymous": {},
        **{name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()},
    }
    settings = make_settings(url, api={"admin_tokens": [ADMIN], "anonymous_reads": False})
    async with serving(create_app(settings), settings.server.port) as base:
        found.base = base
        yield found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (make system-deps)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def tab_of(browser: Browser, world: World, who: str) -> Tab:
    return await new_tab(browser, world.base, headers=world.headers[who])


async def number(tab: Tab, card: str) -> int:
    return int(await tab.page.locator(f"#{card} .num").inner_text())


async def critical_findings(tab: Tab) -> int:
    cells = tab.page.locator('#vulnerabilities tr[data-severity="Critical"] td.n')
    return int(await cells.first.inner_text())


@module_loop
@pytest.mark.parametrize("who", ["ann", "bob", "anonymous", "root"])
async def test_a_reader_sees_neither_a_private_namespace_nor_its_counts(
    world: World, browser: Browser, who: str, tmp_path: Path
) -> None:
    seen = SEES[who]
    hidden = set(REPOSITORIES) - seen
    expected = expected_summary(seen)
    tab = await tab_of(browser, world, who)
    try:
        page = await tab.open("/")
        assert await number(tab, "count-repositories") == expected["repositories"]
        assert await number(tab, "count-tags") == expected["tags"]
        assert await number(tab, "count-scanned") == expected["scanned_digests"]
        assert await critical_findings(tab) == expected["vulnerabilities"]["Critical"]
        everything = who == "root"
        assert await page.locator("#queues").count() == int(everything)
        assert await page.get_by_role("link", name="Events", exact=True).count() == int(everything)
        assert await page.locator("#public-only").count() == int(who == "anonymous")
        for name in hidden:
            assert name not in await page.content()

        await page.get_by_role("link", name="Repositories", exact=True).click()
        names = page.locator("table#repositories tbody tr td:first-child a")
        await expect(names).to_have_text(sorted(seen))
        # Searching for a hidden repository finds nothing.
        await page.get_by_role("searchbox").fill("secret")
        await page.get_by_role("button", name="Search").click()
        await expect(names).to_have_text(sorted(seen & {"b/secret"}))

        await page.get_by_role("link", name="Activities", exact=True).click()
        await expect(page.locator("h1")).to_have_text("Activities")
        for name in hidden:
            assert name not in await page.content()

        # a/app:shared's page lists the other tags on its digest the reader may see.
        if "a/app" in seen:
            await tab.open(f"/tags/{world.tag_ids[('a/app', 'shared')]}")
            assert ("b/secret" in await page.content()) is ("b/secret" in seen)
        # A hidden tag's page, asked by id, is not found.
        for name in hidden:
            response = await page.goto(f"{world.base}/tags/{world.tag_ids[(name, '1.0')]}")
            assert response is not None and response.status == 404
            assert name not in await page.content()
        await page.screenshot(path=tmp_path / f"{who}.png", full_page=True)
    finally:
        await tab.page.context.close()
    tab.assert_clean()
