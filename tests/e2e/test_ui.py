"""The web UI in a real headless Chromium against a real server: an index filled from a real
registry by a sync, plus scan results, hostile text and failed events; navigation, search,
pagination, the severity filter, retrying a failed event with the admin token, pages without
JavaScript, the self-refreshing pages, closed reads, and the repository list's one query."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect
from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select

from portside import ui
from portside.accounts.policy import EVERYONE
from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import Namespace, RegistryEvent, Repository
from portside.db.models import Registry as RegistryRow
from portside.reads import repositories as repository_reads
from portside.reads.paging import Window
from portside.ui import format as fmt
from tests.e2e.ui_support import (
    ADMIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    GOOD_LINK,
    HOSTILE_ACTOR,
    HOSTILE_ERROR,
    HOSTILE_LINK,
    HOSTILE_SUMMARY,
    Seeded,
    Tab,
    _event,
    new_tab,
    push_and_sync,
    seed_rows,
)
from tests.integration.conftest import make_settings, serving
from tests.support import databases

module_loop = pytest.mark.asyncio(loop_scope="module")
SCREENSHOTS = os.environ.get("PORTSIDE_SCREENSHOTS")  # e.g. docs/screenshots
EN_DASH = "\u2013"  # the pager writes ranges with it


@dataclass
class Site:
    base: str
    database_url: str
    ids: Seeded
    screenshots: Path

    async def event_status(self, event_id: int) -> str:
        async with Database(self.database_url) as db, db.read() as session:
            row = await session.get(RegistryEvent, event_id)
            assert row is not None
            return row.status

    async def failed_events(self) -> int:
        async with Database(self.database_url) as db, db.read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(RegistryEvent)
                .where(RegistryEvent.status == "failed")
            )
            return int(count or 0)


def app_for(database_url: str, **overrides: object):  # type: ignore[no-untyped-def]
    settings = make_settings(database_url, api={"admin_tokens": [ADMIN], **overrides})
    app = create_app(settings)
    ui.install(app)  # a no-op once create_app installs the UI itself
    return app, settings


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("ui-template"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(template: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    root = tmp_path_factory.mktemp("ui")
    url = databases.sqlite_clone(template, root)
    async with Database(url) as db:
        digests = await push_and_sync(db, root / "registry")
        ids = await seed_rows(db, digests)
    app, settings = app_for(url)
    shots = Path(SCREENSHOTS) if SCREENSHOTS else root / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    async with serving(app, settings.server.port) as base:
        yield Site(base, url, ids, shots)


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


async def shoot(tab: Tab, site: Site, name: str) -> None:
    await tab.page.screenshot(path=site.screenshots / f"{name}.png", full_page=True)


def rows(tab: Tab, table: str):  # type: ignore[no-untyped-def]
    return tab.page.locator(f"table#{table} tbody tr")


# --- in the browser -----------------------------------------------------------------------


@pytest.mark.registry
@module_loop
async def test_the_dashboard_shows_counts_health_queues_and_vulnerabilities(
    site: Site, tab: Tab
) -> None:
    page = await tab.open("/")
    await expect(page.locator("#count-repositories .num")).to_have_text("63")
    await expect(page.locator("#count-tags .num")).to_have_text("66")
    await expect(page.locator("#count-scanned .num")).to_have_text("2")
    # Two tags share the scanned digest: its findings count once.
    critical = page.locator('#vulnerabilities tr[data-severity="Critical"] td')
    await expect(critical).to_have_text(["Critical", "1", "1"])
    await expect(page.locator('#vulnerabilities tr[data-severity="High"] td')).to_have_text(
        ["High", "2", "1"]
    )
    failed = await site.failed_events()
    events = page.locator('#queues tr[data-queue="events"] td')
    await expect(events).to_have_text(["Registry events", "1", "0", str(failed)])
    await expect(page.locator('#queues tr[data-queue="scans"] td')).to_have_text(
        ["Scans", "0", "1", "1"]
    )
    sync = page.locator('#tasks tr[data-task="sync"]')
    await expect(sync.locator(".badge")).to_have_text("failing")
    await expect(sync.locator("pre.error")).to_have_text("registry unavailable: connection refused")
    await expect(page.locator('#tasks tr[data-task="events"] .badge')).to_have_text("ok")
    # No advisories are loaded in this site: the dashboard says so rather than look clean.
    await expect(page.locator("#no-vulndata")).to_contain_text("No advisories are loaded")
    await shoot(tab, site, "dashboard")


@pytest.mark.registry
@module_loop
async def test_the_navigation_links_the_pages(site: Site, tab: Tab) -> None:
    page = await tab.open("/")
    nav = page.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Repositories").click()
    await expect(page.locator("h1")).to_have_text("Repositories")
    await expect(nav.locator('[aria-current="page"]')).to_have_text("Repositories")
    await page.get_by_role("link", name="library/debian", exact=True).click()
    await expect(page.locator("h1")).to_have_text("library/debian")
    await page.locator("#tags").get_by_role("link", name="12", exact=True).click()
    await expect(page.locator("h1")).to_have_text("library/debian:12")
    await page.locator(".crumbs").get_by_role("link", name="library/debian").click()
    assert page.url == f"{site.base}/repositories/{site.ids.debian}"
    await nav.get_by_role("link", name="Activities").click()
    await expect(page.locator("h1")).to_have_text("Activities")
    await nav.get_by_role("link", name="Events").click()
    await expect(page.locator("h1")).to_have_text("Registry events")
    await page.get_by_role("link", name="Portside", exact=True).click()
    await expect(page.locator("h1")).to_have_text("Dashboard")


@pytest.mark.registry
@module_loop
async def test_repositories_search_and_pagination(site: Site, tab: Tab) -> None:
    page = await tab.open("/repositories")
    await expect(rows(tab, "repositories")).to_have_count(50)
    await expect(page.locator(".pager .range")).to_have_text("1-50 of 63".replace("-", EN_DASH))
    await shoot(tab, site, "repositories")
    await page.locator('.pager a[rel="next"]').click()
    await expect(rows(tab, "repositories")).to_have_count(13)
    await expect(page.locator(".pager .range")).to_have_text("51-63 of 63".replace("-", EN_DASH))
    await expect(rows(tab, "repositories").last).to_contain_text("tools/builder")
    await page.locator('.pager a[rel="prev"]').click()
    await expect(rows(tab, "repositories").first).to_contain_text("library/alpine")

    search = page.get_by_role("searchbox", name="Search repositories")
    await search.fill("svc-1")
    await search.press("Enter")
    await expect(rows(tab, "repositories")).to_have_count(10)
    assert "q=svc-1" in page.url
    await search.fill("svc")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator(".pager .range")).to_have_text("1-50 of 60".replace("-", EN_DASH))
    await page.locator('.pager a[rel="next"]').click()
    await expect(rows(tab, "repositories")).to_have_count(10)
    # The search stays while paging; the link is a cursor, not a growing page number.
    assert "q=svc" in page.url and "after=" in page.url and "page=" not in page.url
    await expect(search).to_have_value("svc")
    await search.fill("%")  # a LIKE wildcard is searched for, not obeyed
    await search.press("Enter")
    await expect(page.locator(".empty")).to_have_text("No repository name contains “%”.")


@pytest.mark.registry
@module_loop
async def test_the_repository_page_shows_tags_and_scan_states(site: Site, tab: Tab) -> None:
    page = await tab.open(f"/repositories/{site.ids.debian}")
    tags = rows(tab, "tags")
    await expect(tags).to_have_count(4)

    def cell(tag: str, n: int):  # type: ignore[no-untyped-def]
        return page.locator(f'#tags tr[data-tag="{tag}"] td').nth(n)

    await expect(cell("11", 7)).to_have_text("Failed")
    await expect(cell("12-slim", 7)).to_have_text("In progress")
    for tag in ("12", "latest"):  # one digest, one scan
        await expect(cell(tag, 7).locator(".badge")).to_have_text(
            ["Critical 1", "High 2", "Medium 1", "Low 1"]
        )
    digest = site.ids.digests[("library/debian", "12")]
    await expect(cell("12", 1)).to_have_text(digest[:19])
    await expect(cell("12", 2)).to_have_text(re.compile(r"^\d+(\.\d)? (B|KiB|MiB)$"))
    await expect(cell("12", 3)).to_have_text("linux/amd64")
    await expect(cell("12", 4)).to_have_text("alice")
    await expect(cell("12", 5)).to_have_text("3 h ago")
    await expect(cell("12", 6)).to_have_text(re.compile(r"just now|\d+ s ago"))
    await shoot(tab, site, "repository")

    await page.goto(f"{site.base}/repositories?q=alpine")
    await page.get_by_role("link", name="library/alpine").click()
    # Its scan found no OS and no packages, and no advisories are loaded: never "Passed".
    alpine = page.locator('#tags tr[data-tag="3.19"] td').nth(7)
    await expect(alpine.locator(".badge")).to_have_text("Incomplete")
    await expect(alpine.locator(".gaps")).to_have_text("OS not recognised: packages not checked")
    await page.goto(f"{site.base}/repositories?q=svc-07")
    await page.get_by_role("link", name="shop/svc-07").click()
    await expect(page.locator('#tags tr[data-tag="1.0"] td').nth(7)).to_have_text("Pending")


@pytest.mark.registry
@module_loop
async def test_the_tag_page_filters_and_sorts_vulnerabilities(site: Site, tab: Tab) -> None:
    page = await tab.open(f"/tags/{site.ids.debian_12}")
    findings = rows(tab, "findings")
    await expect(findings).to_have_count(5)
    severities = [await r.get_attribute("data-severity") for r in await findings.all()]
    assert severities == ["Critical", "High", "High", "Medium", "Low"]  # worst first
    fixed = page.locator('#findings tr[data-id="DSA-5514-1"] td').nth(4)
    await expect(fixed).to_have_text("upgrade to 2.36-9+deb12u3")
    await expect(page.locator('#findings tr[data-id="CVE-2023-29383"] td').nth(4)).to_have_text(
        "no fix yet"
    )
    packages = page.locator("#package-list tbody tr")
    await expect(packages).to_have_count(7)
    # Findings recorded under Debian:12 count for the deb packages; vulnerable ones first.
    listed = [
        (await r.get_attribute("data-package"), await r.get_attribute("data-findings"))
        for r in await packages.all()
    ]
    assert listed == [
        ("libssl3", "1"),
        ("libc6", "1"),
        ("openssh-client", "1"),
        ("passwd", "1"),
        ("apt", "1"),
        ("bash", "0"),
        ("zlib1g", "0"),
    ]
    await expect(page.locator("#vulnerable-packages")).to_have_text("5 vulnerable")
    await shoot(tab, site, "tag")

    filters = page.get_by_role("navigation", name="Filter by severity")
    await filters.get_by_role("link", name=re.compile(r"^High")).click()
    assert page.url.endswith("severity=High")
    await expect(findings).to_have_count(2)
    await page.locator("#findings thead").get_by_role("link", name="Package").click()
    assert "severity=High" in page.url and "sort=package" in page.url
    ids = [await r.get_attribute("data-id") for r in await findings.all()]
    assert ids == ["DSA-5514-1", "CVE-2023-38408"]  # libc6 before openssh-client
    await filters.get_by_role("link", name=re.compile(r"^All")).click()
    await expect(findings).to_have_count(5)
    assert "sort=package" in page.url  # the sort stays when the filter changes
    await filters.get_by_role("link", name=re.compile(r"^Negligible")).click()
    await expect(page.locator("#vulnerabilities .empty")).to_have_text(
        "No Negligible vulnerabilities."
    )

    await page.get_by_label("Filter packages").fill("LIB")
    await page.get_by_role("button", name="Filter").click()
    await expect(packages).to_have_count(3)  # libssl3, libc6, zlib1g
    assert "pkg=LIB" in page.url and "severity=Negligible" in page.url  # the other filter stays
    await expect(page.locator("#package-matches")).to_have_text(
        "3 of 7 packages: name contains \u201cLIB\u201d"
    )

    href = await page.locator("a#sbom").get_attribute("href")
    digest = site.ids.digests[("library/debian", "12")]
    assert href == f"/api/v1/manifests/{digest}/sbom"
    response = await page.request.get(site.base + href)
    assert response.ok
    assert response.headers["content-type"].startswith("application/vnd.cyclonedx+json")


@pytest.mark.registry
@module_loop
async def test_hostile_text_is_shown_as_text_and_never_runs(site: Site, tab: Tab) -> None:
    page = await tab.open(f"/tags/{site.ids.debian_12}")
    row = page.locator('#findings tr[data-id="GHSA-xss0-0000-0001"]')
    await expect(row.locator("td.summary")).to_contain_text(HOSTILE_SUMMARY)
    await expect(row.get_by_text(HOSTILE_LINK, exact=True)).to_have_count(1)
    assert await page.locator('a[href^="javascript"]').count() == 0
    assert await row.locator('a[href="https://example.org/advisories/0001"]').count() == 1
    assert await page.locator(f'a[href="{GOOD_LINK}"]').count() == 1
    assert await page.locator("main img, main script").count() == 0

    await tab.open(f"/tags/{site.ids.debian_12}?pkg=%3Cscript%3Ealert(3)%3C%2Fscript%3E")
    await expect(page.get_by_label("Filter packages")).to_have_value("<script>alert(3)</script>")
    await expect(page.locator("#packages .empty")).to_contain_text("<script>alert(3)</script>")
    assert await page.locator("main script").count() == 0

    await tab.open("/events")
    error = page.locator(f'tr[data-event="{site.ids.hostile_event}"] pre.error')
    await expect(error).to_have_text(HOSTILE_ERROR)
    assert await page.locator("main img, main script, main b").count() == 0

    await tab.open("/activities")
    await expect(page.locator("#activities td.actor").first).to_have_text(HOSTILE_ACTOR)
    await shoot(tab, site, "activities")
    scan = page.locator('#activities tr[data-kind="scan.new-vulnerabilities"] td.details')
    await expect(scan).to_contain_text("1 new Critical in library/debian:12")
    assert await page.locator("main script").count() == 0

    await tab.open("/repositories?q=" + "%3Cscript%3Ealert(2)%3C%2Fscript%3E")
    await expect(page.get_by_role("searchbox")).to_have_value("<script>alert(2)</script>")
    await expect(page.locator(".empty")).to_contain_text("<script>alert(2)</script>")
    await asyncio.sleep(0.2)  # give anything that would fire a chance to
    tab.assert_clean()


@pytest.mark.registry
@module_loop
async def test_a_failed_event_is_retried_with_the_admin_token(site: Site, tab: Tab) -> None:
    page = await tab.open("/events?status=failed")
    await shoot(tab, site, "events")
    token = page.get_by_label("Admin token")
    retry = page.locator(f'tr[data-event="{site.ids.retry_event}"]').get_by_role(
        "button", name="Retry"
    )
    await token.fill("not-the-token")
    await retry.click()
    await expect(page.locator("#message")).to_have_text("Wrong admin token: nothing was retried.")
    assert await site.event_status(site.ids.retry_event) == "failed"

    await page.get_by_label("Admin token").fill(ADMIN)
    await retry.click()
    await expect(page.locator("#notice")).to_have_text("1 event queued again.")
    assert page.url == f"{site.base}/events?status=failed&retried=1"
    await expect(page.locator(f'tr[data-event="{site.ids.retry_event}"]')).to_have_count(0)
    assert await site.event_status(site.ids.retry_event) == "fresh"


@pytest.mark.registry
@module_loop
async def test_the_pages_work_without_javascript(site: Site, browser: Browser) -> None:
    tab = await new_tab(browser, site.base, javascript=False)
    try:
        page = await tab.open("/repositories")
        await page.get_by_role("searchbox").fill("debian")
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("link", name="library/debian").click()
        await page.locator("#tags").get_by_role("link", name="12", exact=True).click()
        filters = page.get_by_role("navigation", name="Filter by severity")
        await filters.get_by_role("link", name=re.compile(r"^Critical")).click()
        await expect(rows(tab, "findings")).to_have_count(1)

        await tab.open("/events?status=failed")
        await page.get_by_label("Admin token").fill(ADMIN)
        await (
            page.locator(f'tr[data-event="{site.ids.nojs_event}"]')
            .get_by_role("button", name="Retry")
            .click()
        )
        await expect(page.locator("#notice")).to_have_text("1 event queued again.")
        assert await site.event_status(site.ids.nojs_event) == "fresh"
    finally:
        await tab.page.context.close()
    tab.assert_clean()


@pytest.mark.registry
@module_loop
async def test_the_dashboard_and_events_refresh_themselves(site: Site, browser: Browser) -> None:
    events, dashboard = await new_tab(browser, site.base), await new_tab(browser, site.base)
    try:
        await events.open("/events")
        await dashboard.open("/")
        for tab in (events, dashboard):
            await tab.page.evaluate("window.notReloaded = true")
        failed = await site.failed_events()
        async with Database(site.database_url) as db, db.write() as session:
            row = _event(99, datetime.now(UTC) - timedelta(minutes=-1), status="failed")
            row.error = "a new failure"
            session.add(row)
            await session.flush()
            new_id = row.id
        await expect(events.page.locator(f'tr[data-event="{new_id}"]')).to_have_count(
            1, timeout=9000
        )
        await expect(
            dashboard.page.locator('#queues tr[data-queue="events"] td').nth(3)
        ).to_have_text(str(failed + 1), timeout=9000)
        for tab in (events, dashboard):
            assert await tab.page.evaluate("window.notReloaded") is True  # swapped, not reloaded
    finally:
        for tab in (events, dashboard):
            await tab.page.context.close()
    events.assert_clean()
    dashboard.assert_clean()


# --- over plain HTTP ----------------------------------------------------------------------


@pytest.mark.registry
@module_loop
async def test_http_answers_headers_and_closed_reads(site: Site) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{site.base}/") as resp:
            assert resp.status == 200
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        for path in ("/repositories/999999", "/tags/abc", "/tags/99999999999999999999"):
            async with http.get(site.base + path) as resp:
                assert resp.status == 404, path
                assert "text/html" in resp.headers["content-type"]
        async with http.get(f"{site.base}/repositories?page=abc") as resp:
            assert resp.status == 200  # a forgiving page number: the first page
        async with http.get(f"{site.base}/static/portside.css") as resp:
            assert resp.status == 200
        async with http.post(
            f"{site.base}/events/retry", data={"token": ADMIN, "status": "failed"}
        ) as resp:
            assert resp.status == 400
            assert "Choose an event to retry." in await resp.text()

    # The same index served beyond loopback: anonymous readers see the public namespaces
    # only (none here: the registry's namespaces are private), and no global numbers.
    app, settings = app_for(site.database_url, anonymous_reads=False)
    async with (
        serving(app, settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        for path in ("/", "/repositories", "/activities"):
            async with http.get(base + path) as resp:
                assert resp.status == 200, path
                body = await resp.text()
                assert "you see the public namespaces only" in body, path
                assert "library/debian" not in body and 'id="queues"' not in body, path
                assert 'href="/events"' not in body, path
        async with http.get(f"{base}/tags/{site.ids.debian_12}") as resp:
            assert resp.status == 404
        async with http.get(base + "/events") as resp:
            assert resp.status == 401
            assert "shown to admins only" in await resp.text()
        async with http.get(base + "/", headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            assert resp.status == 200
        async with http.post(
            f"{base}/events/retry", data={"token": "wrong", "id": str(site.ids.hostile_event)}
        ) as resp:
            assert resp.status == 403
            body = await resp.text()
            assert "Wrong admin token" in body and "registry answered 500" not in body


# --- the repository list's query ---------------------------------------------------------


@module_loop
async def test_a_repository_page_is_one_query_on_10000_repositories(
    template: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    async with Database(databases.sqlite_clone(template, tmp_path)) as db:
        async with db.write() as session:
            registry = RegistryRow(name="r", url="http://r", created_at=now)
            session.add(registry)
            await session.flush()
            namespace = Namespace(registry_id=registry.id, name="team", created_at=now)
            session.add(namespace)
            await session.flush()
            await session.execute(
                insert(Repository),
                [
                    {
                        "registry_id": registry.id,
                        "namespace_id": namespace.id,
                        "name": f"team/app-{n:05d}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(10_000)
                ],
            )
        statements: list[str] = []
        sa_event.listen(
            db.engine.sync_engine,
            "before_cursor_execute",
            lambda *args: statements.append(args[2]) if args[2].startswith("SELECT") else None,
        )
        async with db.read() as session:
            started = time.perf_counter()
            found = await repository_reads.repositories(
                session, Window(50, page=150), principal=EVERYONE
            )
            took = time.perf_counter() - started
            assert len(statements) == 2  # the page (tag counts included) and its count
            assert found.total == 10_000
            assert [r.name for r in found.rows][:2] == ["team/app-07450", "team/app-07451"]
            assert took < 0.5, took  # ~10 ms here
            found = await repository_reads.repositories(
                session, Window(50), principal=EVERYONE, q="app-0999"
            )
            assert [r.name for r in found.rows][-1] == "team/app-09999"
            assert found.total == 10
            assert len(statements) == 4
            past = await repository_reads.repositories(
                session, Window(50, page=999), principal=EVERYONE
            )
            assert (past.rows, past.total) == ([], 10_000)  # counted apart when empty


# --- pure pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://example.org/a?b=c", True),
        ("HTTP://example.org/", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("//example.org/x", False),
        ("/relative", False),
        ("https://", False),
        ("https://exa mple.org", False),
    ],
)
def test_only_http_links_become_anchors(url: str, linked: bool) -> None:
    assert (fmt.safe_link(url) == url) is linked


def test_sizes_digests_times_and_scan_badges() -> None:
    assert [fmt.human_size(n) for n in (None, 0, 1023, 1536, 5 * 1024**3)] == [
        "",
        "0 B",
        "1023 B",
        "1.5 KiB",
        "5.0 GiB",
    ]
    assert fmt.short_digest("sha256:" + "ab" * 32) == "sha256:abababababab"
    assert [fmt.duration(s) for s in (None, 0.04, 1.84, 125)] == ["", "40 ms", "1.8 s", "2 min 5 s"]
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert fmt.ago(now - timedelta(minutes=5), now) == "5 min ago"
    assert fmt.ago(now + timedelta(hours=2), now) == "in 2 h"
    assert fmt.scan_badge("pending", None).label == "Pending"
    assert fmt.scan_badge("in progress", None).label == "In progress"
    assert fmt.scan_badge("done", {}).label == "Passed"
    badge = fmt.scan_badge("done", {"Low": 2, "High": 1})
    assert (badge.label, badge.counts) == ("High", [("High", 1), ("Low", 2)])
    failing = fmt.task_health(
        enabled=True, last_finished_at=now, last_error_at=now, next_run_at=None, now=now
    )
    recovered = fmt.task_health(
        enabled=True,
        last_finished_at=now,
        last_error_at=now - timedelta(hours=1),
        next_run_at=now,
        now=now,
    )
    assert (failing.label, recovered.label) == ("failing", "ok")
    assert [fmt.page_number(v) for v in (None, "abc", "0", "3", "9" * 20)] == [1, 1, 1, 3, 1]
