"""The read model through a real server: the pages and the JSON API show the same numbers,
and lists page by cursor, forward and back, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert

from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import ScanTarget, Tag, TaskState
from portside.index import store
from portside.index.vocabulary import ActivityKind
from tests.integration.conftest import make_settings, serving

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
REPOSITORIES = [f"ns{n % 3}/app-{n:03d}" for n in range(23)]


def digest(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def scan(target: str, status: str = "done", **values: Any) -> ScanTarget:
    return ScanTarget(
        digest=target,
        repository="ns0/app-000",
        status=status,
        priority=0,
        attempts=1,
        available_at=NOW,
        created_at=NOW,
        **values,
    )


async def seed(db: Database) -> None:
    async with db.write() as session:
        registry_id = await store.ensure_registry(session, "http://r", NOW)
        repos, _ = await store.ensure_repositories(session, registry_id, REPOSITORIES, NOW)
        rows = [
            {
                "repository_id": repo.id,
                "name": f"v{t}",
                "digest": digest(i % 5),
                "platforms": [],
                "scan_state": "done",
                "source_at": NOW,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i, repo in enumerate(repos.values())
            for t in range(i % 4)
        ]
        await session.execute(insert(Tag), rows)
        session.add_all(
            [
                # Tagged and scanned: counted everywhere.
                scan(digest(1), scanned_at=NOW, counts={"Critical": 2, "Low": 1}),
                scan(digest(2), scanned_at=NOW, counts={}),
                # Scanned, but no tag points at it any more: nobody's problem, counted nowhere.
                scan(digest(99), scanned_at=NOW, counts={"High": 7}),
                # Tagged, queued, not scanned yet.
                scan(digest(3), status="pending"),
                # A task the settings do not know, recorded by some process.
                TaskState(name="describe", enabled=True, runs=3, worker="w1"),
                TaskState(name="sync", enabled=True, runs=5, worker="w1"),
            ]
        )
        for n in range(130):
            store.record(
                session,
                ActivityKind.TAG_PUSH,
                NOW,
                actor="a",
                repository=REPOSITORIES[n % 23],
                tag="v0",
            )


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    settings = make_settings(database_url)
    async with Database(database_url) as db:
        await seed(db)
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        yield base, http


def number(html: str, element_id: str) -> int:
    found = re.search(
        rf'id="{element_id}">(?:<span class="about">about</span> )?'
        r'<span class="num">(\d+)</span>',
        html,
    )
    assert found, element_id
    return int(found.group(1))


async def get(http: aiohttp.ClientSession, url: str, **params: Any) -> Any:
    async with http.get(url, params=params) as resp:
        assert resp.status == 200, await resp.text()
        if resp.content_type == "application/json":
            return await resp.json()
        return await resp.text()


async def test_the_dashboard_and_the_api_show_the_same_numbers(
    site: tuple[str, aiohttp.ClientSession],
) -> None:
    base, http = site
    html = await get(http, f"{base}/")
    summary = await get(http, f"{base}/api/v1/summary")
    status = await get(http, f"{base}/api/v1/status")

    shown = {
        "repositories": number(html, "count-repositories"),
        "tags": number(html, "count-tags"),
        "scanned_digests": number(html, "count-scanned"),
    }
    assert shown == {k: summary[k] for k in shown}
    assert shown == {"repositories": 23, "tags": 33, "scanned_digests": 2}
    findings = dict(re.findall(r'data-severity="(\w+)"><td>.*?</td><td class="n">(\d+)</td>', html))
    assert {k: int(v) for k, v in findings.items()} == summary["vulnerabilities"]
    assert summary["vulnerabilities"]["Critical"] == 2 and summary["vulnerabilities"]["High"] == 0

    tasks = re.findall(r'<tr data-task="([\w-]+)">', html)
    assert tasks == [t["name"] for t in status["tasks"]]
    assert tasks == ["events", "sync", "scan", "gc", "webhooks", "vulndb", "describe"]
    runs = dict(
        re.findall(r'<tr data-task="([\w-]+)">.*?<td class="n">(\d+)</td>\s*<td>', html, re.S)
    )
    assert {k: int(v) for k, v in runs.items()} == {t["name"]: t["runs"] for t in status["tasks"]}
    waiting = re.search(r'data-queue="events">.*?<td class="n">(\d+)</td>', html, re.S)
    assert waiting and int(waiting.group(1)) == status["events"]["fresh"]


async def walk(http: aiohttp.ClientSession, url: str, per_page: int, **params: Any) -> list[Any]:
    """Every page forward by ``next``, then back by ``previous``: the same rows both ways."""
    pages = [await get(http, url, per_page=per_page, **params)]
    while pages[-1]["next"]:
        assert len(pages) < 100
        pages.append(await get(http, url, per_page=per_page, after=pages[-1]["next"], **params))
    back = [pages[-1]]
    while back[-1]["previous"]:
        back.append(await get(http, url, per_page=per_page, after=back[-1]["previous"], **params))
    assert [p["items"] for p in reversed(back)] == [p["items"] for p in pages]
    assert all(len(p["items"]) == per_page for p in pages[:-1])
    return [item for p in pages for item in p["items"]]


async def test_api_lists_page_by_cursor_both_ways(
    site: tuple[str, aiohttp.ClientSession],
) -> None:
    base, http = site
    repos = await walk(http, f"{base}/api/v1/repositories", 5)
    assert [r["name"] for r in repos] == sorted(REPOSITORIES)
    filtered = await walk(http, f"{base}/api/v1/repositories", 3, q="ns1/")
    assert [r["name"] for r in filtered] == sorted(n for n in REPOSITORIES if n.startswith("ns1/"))
    activities = await walk(http, f"{base}/api/v1/activities", 20)
    ids = [a["id"] for a in activities]
    assert len(ids) == 130 and ids == sorted(ids, reverse=True)
    one = await walk(http, f"{base}/api/v1/activities", 2, repository=REPOSITORIES[4])
    assert len(one) == 6 and {a["repository"] for a in one} == {REPOSITORIES[4]}
    # page= still works, and its links are cursors.
    third = await get(http, f"{base}/api/v1/repositories", per_page=5, page=3)
    assert [r["name"] for r in third["items"]] == sorted(REPOSITORIES)[10:15]
    assert third["page"] == 3 and third["total"] == 23 and not third["total_estimated"]
    after = await get(http, f"{base}/api/v1/repositories", per_page=5, after=third["next"])
    assert [r["name"] for r in after["items"]] == sorted(REPOSITORIES)[15:20]
    assert after["page"] == 4  # the cursor carries its position
    # A forged cursor reads as the first page.
    forged = await get(http, f"{base}/api/v1/repositories", per_page=5, after="!!not-a-cursor")
    assert [r["name"] for r in forged["items"]] == sorted(REPOSITORIES)[:5]


async def test_pages_link_by_cursor(site: tuple[str, aiohttp.ClientSession]) -> None:
    base, http = site
    html = await get(http, f"{base}/activities")
    nxt = re.search(r'rel="next" href="/activities\?after=([\w-]+)"', html)
    assert nxt, "the timeline links its next page by cursor"
    second = await get(http, f"{base}/activities", after=nxt.group(1))
    assert "51\u2013100" in second and 'rel="prev"' in second
