"""The "Vulnerabilities" page (the security hub) in a real headless Chromium against a real
server: images pushed to a real registry, synced, scanned by the real scan task against the
real OSV records of ../shared/realosv/osv. A CVE alias finds the image; the vulnerability's
page lists its tags; a hostile advisory summary is text; bad input is left out, not a crash.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from portside.app import create_app
from portside.db.engine import Database
from portside.registry.client import RegistryClient
from portside.security.scanning import advisory_store
from portside.security.scanning.task import ScanTask
from portside.settings import RegistrySettings, ScanTaskSettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.e2e.ui_support import CHROMIUM, CHROMIUM_ARGS, Tab, new_tab
from tests.integration.conftest import make_settings, serving
from tests.support import databases
from tests.support.oci import Layout, push
from tests.support.realosv import real_records
from tests.support.registry import running_registry

module_loop = pytest.mark.asyncio(loop_scope="module")
SEMVER = "GHSA-c2qf-rxjj-qqgw"  # real: semver 7.0.0 to 7.5.2, CVE-2022-25883
SCREENSHOTS = os.environ.get("PORTSIDE_SCREENSHOTS")  # e.g. docs/screenshots
HOSTILE_SUMMARY = "<img src=x onerror=alert('hub')><script>alert('hub')</script> minimist"


def hostile_record() -> dict[str, object]:
    """Hand-written (no real record has HTML in its summary): an advisory for minimist."""
    return {
        "schema_version": "1.6.0",
        "id": "GHSA-hub0-xss0-0001",
        "modified": "2026-01-01T00:00:00Z",
        "aliases": ["CVE-2099-0001"],
        "summary": HOSTILE_SUMMARY,
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "minimist"},
                "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.2.6"}]}],
            }
        ],
        "database_specific": {"severity": "LOW"},
    }


def package_json(name: str, version: str) -> bytes:
    return json.dumps({"name": name, "version": version, "license": "MIT"}).encode()


async def build(root: Path, url: str) -> None:
    """Push shop/web:1.0 (semver 7.5.1, minimist 1.2.5) and tools/cli:2.0 (semver 7.5.1),
    sync, import the advisories, scan."""
    async with Database(url) as db:
        with running_registry(root / "registry") as registry:
            layout = Layout(root / "layout")
            web, _ = layout.image(
                [
                    {
                        "app/node_modules/semver/package.json": package_json("semver", "7.5.1"),
                        "app/node_modules/minimist/package.json": package_json("minimist", "1.2.5"),
                    }
                ]
            )
            layout.tag(web, "1.0")
            cli, _ = layout.image(
                [{"app/node_modules/semver/package.json": package_json("semver", "7.5.1")}]
            )
            layout.tag(cli, "2.0")
            await asyncio.to_thread(push, layout.path, "1.0", registry.url, "shop/web")
            await asyncio.to_thread(push, layout.path, "2.0", registry.url, "tools/cli")
            osv = root / "osv"
            osv.mkdir()
            for path in real_records(SEMVER, "GHSA-xvch-5gv4-984h"):
                shutil.copy(path, osv)  # a temporary folder, outside the repository
            (osv / "hostile.json").write_text(json.dumps(hostile_record()))
            await advisory_store.import_path(db, osv, datetime.now(UTC))
            async with RegistryClient(RegistrySettings(url=registry.url)) as client:
                await SyncRun(db, client, SyncOptions()).run()
                task = ScanTask(db, client, ScanTaskSettings(), worker="e2e")
                while (await task.run_once()).more:
                    pass


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def base(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    root = tmp_path_factory.mktemp("hub")
    template = databases.sqlite_template(tmp_path_factory.mktemp("hub-template"))
    url = databases.sqlite_clone(template, root)
    await build(root, url)
    settings = make_settings(url)
    async with serving(create_app(settings), settings.server.port) as served:
        yield served


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium is not installed: `apt-get install chromium` (make system-deps)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def tab(base: str, browser: Browser) -> AsyncIterator[Tab]:
    opened = await new_tab(browser, base)
    yield opened
    await opened.page.context.close()
    opened.assert_clean()  # no script ran, nothing left the server, no CSP violation


@pytest.mark.registry
@module_loop
async def test_a_cve_alias_finds_the_image(base: str, tab: Tab) -> None:
    page = await tab.open("/")
    await (
        page.get_by_role("navigation", name="Main")
        .get_by_role("link", name="Vulnerabilities")
        .click()
    )
    await expect(page.locator("h1")).to_have_text("Vulnerabilities")
    # The most widespread first: semver's advisory is in both images.
    first = page.locator("table#vulnerabilities tbody tr").first
    await expect(first).to_have_attribute("data-id", SEMVER)
    await expect(first.locator("td.n")).to_have_text(["2", "2"])
    await expect(page.locator("#exposed tbody tr").first).to_contain_text("shop/web:1.0")
    if SCREENSHOTS:
        await page.screenshot(path=Path(SCREENSHOTS) / "vulnerabilities.png", full_page=True)

    await page.get_by_label("Advisory id or alias").fill("cve-2022-25883")
    await page.get_by_role("button", name="Search").click()
    found = page.locator("table#vulnerabilities tbody tr")
    await expect(found).to_have_count(1)
    await expect(found).to_contain_text("CVE-2022-25883")
    csv_href = await page.locator("a#csv").get_attribute("href")
    assert csv_href == "/api/v1/vulnerabilities.csv?q=cve-2022-25883"
    await found.get_by_role("link", name=SEMVER).click()
    await expect(page.locator("h1")).to_have_text(SEMVER)
    affected = page.locator("table#affected-tags tbody tr")
    await expect(affected).to_have_count(2)
    await expect(affected.first).to_contain_text("7.5.2")  # the fixed version
    if SCREENSHOTS:
        await page.screenshot(path=Path(SCREENSHOTS) / "vulnerability.png", full_page=True)
    await page.get_by_role("link", name="shop/web:1.0").click()
    await expect(page.locator("h1")).to_have_text("shop/web:1.0")

    # The CSV the page links to.
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/v1/vulnerabilities/{SEMVER}.csv") as resp,
    ):
        lines = (await resp.text()).splitlines()
    assert resp.status == 200 and len(lines) == 3
    assert lines[0].startswith("repository,tag,digest,advisory_id")


@pytest.mark.registry
@module_loop
async def test_package_search_hostile_text_and_bad_input(base: str, tab: Tab) -> None:
    page = await tab.open("/vulnerabilities?package=minimist")
    found = page.locator("table#vulnerabilities tbody tr")
    await expect(found).to_have_count(2)
    hostile = page.locator('tr[data-id="GHSA-hub0-xss0-0001"] td.summary')
    await expect(hostile).to_have_text(HOSTILE_SUMMARY)  # shown as text; no dialog (the tab)
    page = await tab.open("/vulnerabilities?package=minimist&severity=Critical")
    await expect(found).to_have_count(1)
    await expect(found).to_have_attribute("data-id", "GHSA-xvch-5gv4-984h")
    page = await tab.open("/vulnerabilities?q=%3Cscript%3E&package=x%20y")
    await expect(page.locator("p.error")).to_have_count(2)
    await expect(page.locator("table#vulnerabilities tbody tr").first).to_be_visible()
    response = await page.goto(base + "/vulnerabilities/CVE-1999-0001")
    assert response is not None and response.status == 404
