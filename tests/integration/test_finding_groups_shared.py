"""Two writers storing the same group of findings at once (PostgreSQL, several scan workers or
a re-match beside a scan) store it once: the second waits for the first's insert, finds the
key taken, and links its digest to the first's row. Real PostgreSQL; the overlap is made by
holding the first transaction open while the second writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from portside.db.engine import Database
from portside.db.models import Finding, FindingGroup, ImageFindingGroup, ScanTarget
from portside.security import findings_store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
FINDINGS = [
    {"id": "GHSA-1", "ecosystem": "npm", "package": "semver", "version": "7.5.1",
     "fixed_version": "7.5.2", "severity": "High"},
    {"id": "GHSA-2", "ecosystem": "npm", "package": "semver", "version": "7.5.1",
     "fixed_version": None, "severity": "Low"},
]  # fmt: skip


@pytest.mark.postgres
async def test_two_writers_store_one_group(pg_db: Database) -> None:
    db = pg_db
    async with db.write() as session:
        targets = [
            ScanTarget(
                digest=f"sha256:{n:064x}", repository="a/b", status="done", priority=0,
                attempts=1, available_at=NOW, created_at=NOW,
            )
            for n in range(2)
        ]  # fmt: skip
        session.add_all(targets)
        await session.flush()
        ids = [t.id for t in targets]
    first_inserted = asyncio.Event()

    async def first() -> None:
        async with db.write() as session:
            await findings_store.replace(session, [(ids[0], [FINDINGS])], NOW)
            first_inserted.set()
            await asyncio.sleep(0.5)  # the second writer meets the uncommitted row

    async def second() -> None:
        await first_inserted.wait()
        async with db.write() as session:
            await findings_store.replace(session, [(ids[1], [FINDINGS])], NOW)

    await asyncio.gather(first(), second())
    async with db.read() as session:
        groups = await session.scalar(select(func.count()).select_from(FindingGroup))
        rows = await session.scalar(select(func.count()).select_from(Finding))
        links = (await session.execute(select(ImageFindingGroup.scan_target_id,
                                               ImageFindingGroup.group_id))).all()  # fmt: skip
    assert (groups, rows) == (1, 2)
    assert sorted(t for t, _ in links) == ids and len({g for _, g in links}) == 1
