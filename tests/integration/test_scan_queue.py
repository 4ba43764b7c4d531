"""The scan queue's read probe (SQLite and PostgreSQL): an idle worker asks with a read and
takes a write transaction only when a run could enqueue or claim something."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from portside.db.engine import Database
from portside.db.models import ScanTarget, Tag
from portside.index import store
from portside.index.vocabulary import ScanTargetStatus
from portside.registry.images import ImageInfo
from portside.security.scanning import queue

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


async def has_work(db: Database, now: datetime = NOW) -> bool:
    async with db.read() as session:
        return await queue.has_work(session, now)


async def claim(db: Database, now: datetime = NOW) -> list[ScanTarget]:
    async with db.write() as session:
        await queue.enqueue_new(session, now)
        return await queue.claim(
            session, worker="w1", now=now, limit=10, lease=LEASE, max_attempts=3
        )


async def test_the_probe_follows_the_queue(db: Database) -> None:
    assert not await has_work(db)  # nothing tagged

    async with db.write() as session:
        registry = await store.ensure_registry(session, "http://registry.invalid", NOW)
        repos, _ = await store.ensure_repositories(session, registry, ["ns/app"], NOW)
        session.add(
            Tag(
                **store.new_tag(repos["ns/app"].id, "1.0", ImageInfo("sha256:" + "a" * 64, ""), NOW)
            )
        )
    assert await has_work(db)  # a tagged digest without a target

    (target,) = await claim(db)
    assert not await has_work(db)  # claimed, its lease running
    assert await has_work(db, NOW + LEASE + timedelta(seconds=1))  # the lease expired

    async with db.write() as session:  # back to pending, due later (a retry's backoff)
        await session.execute(
            update(ScanTarget)
            .where(ScanTarget.id == target.id)
            .values(status=ScanTargetStatus.PENDING, lease_until=None, available_at=NOW + LEASE)
        )
    assert not await has_work(db)
    assert await has_work(db, NOW + LEASE)
