"""Sources that update themselves, on both databases, against a real HTTP server on loopback
serving archives built at test time from the real OSV records (../shared/realosv/osv): the first
fetch imports, a 304 imports nothing, a changed archive imports only what changed and
withdraws what left, and a truncated download, a server error or an over-size archive leave
the stored data as it was, back off and say why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from portside.db.engine import Database
from portside.db.models import Advisory as AdvisoryRow
from portside.security.scanning import advisory_store
from portside.security.sources import state
from portside.security.sources.update import update_round
from portside.settings import VulndbSettings
from tests.support.archive_server import (
    ArchiveServer,
    archive_server,
    build_zip,
    real_ids,
    real_record,
    write_archive,
)

PATH = "/PyPI/all.zip"


@pytest.fixture
def server() -> Iterator[ArchiveServer]:
    with archive_server() as running:
        yield running


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return [real_record(i) for i in real_ids("PyPI", 12)]


class Clock:
    """Time as the test sets it, a millisecond later at each reading (as a real clock moves)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def empty(folder: Path) -> bool:
    return not folder.exists() or not list(folder.iterdir())


async def stored(db: Database) -> dict[str, tuple[datetime | None, datetime, str | None]]:
    async with db.read() as session:
        rows = await session.execute(
            select(
                AdvisoryRow.id, AdvisoryRow.modified, AdvisoryRow.imported_at, AdvisoryRow.summary
            )
        )
        return {r.id: (r.modified, r.imported_at, r.summary) for r in rows.all()}


async def source_row(db: Database, url: str) -> Any:
    async with db.read() as session:
        return next(s for s in await state.load_all(session) if s.url == url)


def settings_for(*urls: str, **extra: Any) -> VulndbSettings:
    return VulndbSettings(sources=list(urls), interval=3600, backoff_base=60, **extra)


async def test_first_fetch_imports_then_304_imports_nothing(
    db: Database, server: ArchiveServer, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    url = server.put(PATH, build_zip(records))
    clock = Clock()
    start = clock.now
    first = await update_round(db, settings_for(url), tmp_path / "work", clock)
    assert [(s.records, s.changed, s.error) for s in first.sources] == [(12, 12, None)]
    before = await stored(db)
    assert sorted(before) == sorted(r["id"] for r in records)
    row = await source_row(db, url)
    assert row.etag == server.files[PATH].etag and row.records == 12
    assert start < row.last_success <= clock.now and row.failures == 0
    assert row.ecosystems.get("PyPI") == 12
    assert empty(tmp_path / "work")  # the download is removed

    # Not due yet: no request at all; then due, a conditional request answered 304.
    clock.now += timedelta(minutes=10)
    assert (await update_round(db, settings_for(url), tmp_path / "work", clock)).sources == []
    clock.now += timedelta(hours=1)
    start = clock.now
    second = await update_round(db, settings_for(url), tmp_path / "work", clock)
    assert [(s.not_modified, s.changed) for s in second.sources] == [(True, 0)]
    assert server.gets(PATH)[-1]["if-none-match"] == server.files[PATH].etag
    assert server.gets(PATH)[-1]["if-modified-since"] == server.files[PATH].last_modified
    assert await stored(db) == before
    assert start < (await source_row(db, url)).last_success <= clock.now


async def test_a_changed_archive_imports_only_changes_and_withdraws_removed_records(
    db: Database, server: ArchiveServer, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    url = server.put(PATH, build_zip(records))
    clock = Clock()
    await update_round(db, settings_for(url), tmp_path / "work", clock)
    before = await stored(db)

    changed = dict(records[0], modified="2030-01-01T00:00:00Z", summary="revised at test time")
    kept = records[1:10]
    server.put(PATH, build_zip([changed, *kept]))  # records[10:] left the source
    clock.now += timedelta(hours=2)
    start = clock.now
    result = await update_round(db, settings_for(url), tmp_path / "work", clock)
    [source] = result.sources
    assert (source.records, source.changed, source.withdrawn, source.error) == (10, 1, 2, None)
    after = await stored(db)
    assert sorted(after) == sorted(r["id"] for r in [changed, *kept])
    assert after[changed["id"]][2] == "revised at test time"
    assert start < after[changed["id"]][1] <= clock.now
    for record in kept:  # unchanged records are not rewritten
        assert after[record["id"]] == before[record["id"]]


async def test_a_record_another_source_holds_is_not_withdrawn(
    db: Database, server: ArchiveServer, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    one = server.put("/one/all.zip", build_zip(records[:6]))
    two = server.put("/two/all.zip", build_zip(records[4:8]))
    clock = Clock()
    await update_round(db, settings_for(one, two), tmp_path / "work", clock)
    assert len(await stored(db)) == 8
    server.put("/one/all.zip", build_zip(records[:3]))  # 3, 4, 5 leave source one
    clock.now += timedelta(hours=2)
    await update_round(db, settings_for(one, two), tmp_path / "work", clock)
    # 3 is gone; 4 and 5 are still in source two
    assert sorted(await stored(db)) == sorted(r["id"] for r in records[:3] + records[4:8])


@pytest.mark.parametrize("fault", ["truncate", "500"])
async def test_a_failed_fetch_leaves_the_data_backs_off_and_says_why(
    db: Database,
    server: ArchiveServer,
    records: list[dict[str, Any]],
    tmp_path: Path,
    fault: str,
) -> None:
    url = server.put(PATH, build_zip(records))
    clock = Clock()
    await update_round(db, settings_for(url), tmp_path / "work", clock)
    before = await stored(db)
    last_success = (await source_row(db, url)).last_success

    server.put(PATH, build_zip(records[:2]))  # would withdraw ten records if it were read
    server.fault = fault
    clock.now += timedelta(hours=2)
    start = clock.now
    [source] = (await update_round(db, settings_for(url), tmp_path / "work", clock)).sources
    expected = "truncated" if fault == "truncate" else "HTTP 500"
    assert source.error is not None and expected in source.error
    assert await stored(db) == before
    row = await source_row(db, url)
    assert (row.failures, row.last_success) == (1, last_success)
    assert start < row.last_attempt <= clock.now
    assert expected in (row.last_error or "")
    assert empty(tmp_path / "work")
    # Backing off: not tried again at once, tried again after the back-off.
    requests = len(server.gets(PATH))
    clock.now += timedelta(seconds=30)
    assert (await update_round(db, settings_for(url), tmp_path / "work", clock)).sources == []
    assert len(server.gets(PATH)) == requests
    server.fault = None
    clock.now += timedelta(seconds=60)
    [again] = (await update_round(db, settings_for(url), tmp_path / "work", clock)).sources
    assert (again.error, again.withdrawn) == (None, 10)
    assert (await source_row(db, url)).failures == 0


async def test_an_archive_over_the_size_limit_is_refused(
    db: Database, server: ArchiveServer, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    body = build_zip(records)
    url = server.put(PATH, body)
    settings = settings_for(url, max_archive_bytes=len(body) - 1)
    [source] = (await update_round(db, settings, tmp_path / "work", Clock())).sources
    assert source.error is not None and "limit" in source.error
    assert await stored(db) == {}
    assert empty(tmp_path / "work")


async def test_a_file_source(db: Database, records: list[dict[str, Any]], tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = write_archive(mirror / "all.zip", records[:5])
    url = archive.as_uri()
    work = tmp_path / "work"
    clock = Clock()
    [first] = (await update_round(db, settings_for(url), work, clock, force=True)).sources
    assert (first.records, first.changed) == (5, 5)
    [again] = (await update_round(db, settings_for(url), work, clock, force=True)).sources
    assert again.not_modified
    write_archive(archive, records[1:7])
    [changed] = (await update_round(db, settings_for(url), work, clock, force=True)).sources
    assert (changed.records, changed.changed, changed.withdrawn) == (6, 2, 1)
    assert sorted(await stored(db)) == sorted(r["id"] for r in records[1:7])


async def test_a_hand_import_is_never_withdrawn_by_a_source(
    db: Database, server: ArchiveServer, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    folder = write_archive(tmp_path / "hand.zip", records[:2])
    sid, _ = await state.source_id(db, folder.as_uri())
    await advisory_store.import_path(db, folder, Clock()(), source_id=sid)
    url = server.put(PATH, build_zip(records[:4]))
    clock = Clock()
    work = tmp_path / "work"
    await update_round(db, settings_for(url), work, clock)
    server.put(PATH, build_zip(records[2:4]))
    clock.now += timedelta(hours=2)
    await update_round(db, settings_for(url), work, clock)
    assert sorted(await stored(db)) == sorted(r["id"] for r in records[:4])


async def test_status_metrics_and_dashboard_show_the_data_and_a_failing_source(
    database_url: str, server: ArchiveServer, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    from portside.app import create_app
    from tests.integration.conftest import make_settings, serving

    good = server.put(PATH, build_zip(records))
    broken = f"{server.url}/npm/all.zip"  # not served: a 404
    settings = make_settings(database_url, vulndb={"sources": [good, broken]})
    async with Database(database_url) as db:
        await update_round(db, settings.vulndb, tmp_path / "work", lambda: datetime.now(UTC))
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{base}/api/v1/status") as resp:
            status = await resp.json()
        async with http.get(f"{base}/metrics") as resp:
            metrics = await resp.text()
        async with http.get(f"{base}/") as resp:
            page = await resp.text()
    vulndb = status["vulndb"]
    assert vulndb["stale_after_days"] == 7
    [pypi] = [e for e in vulndb["ecosystems"] if e["ecosystem"] == "PyPI"]
    assert pypi["records"] == 12 and pypi["last_success"] and not pypi["stale"]
    assert 0 <= pypi["age_seconds"] < 600
    sources = {s["url"]: s for s in vulndb["sources"]}
    assert sources[good]["records"] == 12 and sources[good]["failures"] == 0
    assert sources[broken]["failures"] == 1 and "HTTP 404" in sources[broken]["last_error"]
    assert any(t["name"] == "vulndb" for t in status["tasks"])
    assert 'portside_vulndb_records{ecosystem="PyPI"} 12.0' in metrics
    assert 'portside_vulndb_age_seconds{ecosystem="PyPI"}' in metrics
    assert f'portside_vulndb_source_failures{{source="{broken}"}} 1.0' in metrics
    assert 'data-ecosystem="PyPI"' in page and "HTTP 404" in page


async def test_default_sources_follow_the_ecosystems_of_scanned_images(
    db: Database, server: ArchiveServer, records: list[dict[str, Any]], tmp_path: Path
) -> None:
    from portside.db.models import ScanTarget
    from portside.security.sources.task import VulndbTask
    from portside.security.sources.update import sources_now

    settings = VulndbSettings(base_url=server.url + "/osv", interval=3600)
    assert await sources_now(db, settings) == []
    now = datetime.now(UTC)
    async with db.write() as session:
        session.add(
            ScanTarget(
                digest="sha256:" + "a" * 64,
                repository="ns/app",
                status="done",
                priority=0,
                attempts=1,
                available_at=now,
                created_at=now,
                os={"id": "debian", "version_id": "12"},
                packages=[
                    {"name": "bash", "version": "5.2-1", "ecosystem": "deb"},
                    {"name": "requests", "version": "2.2.0", "ecosystem": "pypi"},
                ],
            )
        )
    assert await sources_now(db, settings) == [
        f"{server.url}/osv/Debian/all.zip",
        f"{server.url}/osv/PyPI/all.zip",
    ]
    # The task: PyPI is served, Debian is not (a 404 in its state); one task at a time.
    server.put("/osv/PyPI/all.zip", build_zip(records[:3]))
    first = VulndbTask(db, settings, tmp_path / "work", worker="one")
    other = VulndbTask(db, settings, tmp_path / "work", worker="two")
    from portside.db import leases

    assert await leases.acquire(db, "vulndb", "two", now, timedelta(minutes=5))
    skipped = await first.run_once()
    assert "skipped" in skipped.details
    await leases.release(db, "vulndb", "two")
    run = await first.run_once()
    by_url = {s["url"]: s for s in run.details["sources"]}
    assert by_url[f"{server.url}/osv/PyPI/all.zip"]["records"] == 3
    assert "HTTP 404" in by_url[f"{server.url}/osv/Debian/all.zip"]["error"]
    assert (await other.run_once()).details["sources"] == []  # nothing due yet
