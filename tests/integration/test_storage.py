"""The storage layer on real SQLite and PostgreSQL: schema, constraints, the event queue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from portside.db.engine import Database
from portside.db.models import Base, Namespace, RegistryEvent, Repository, Tag
from portside.errors import StorageError
from portside.events import queue
from portside.events.envelope import IncomingEvent
from portside.reads import history
from portside.reads.paging import Window
from tests.support import databases

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def incoming(n: int, repository: str = "ns/app", action: str = "push") -> IncomingEvent:
    return IncomingEvent(
        event_id=f"event-{repository}-{n}",
        action=action,
        repository=repository,
        tag=f"t{n}",
        digest="sha256:" + f"{n:064x}",
        media_type="application/vnd.oci.image.manifest.v1+json",
        actor="alice",
        user_agent="skopeo/1.9.3",
        occurred_at=NOW + timedelta(seconds=n),
        data={"id": f"event-{repository}-{n}"},
    )


async def store_events(db: Database, *events: IncomingEvent) -> int:
    async with db.write() as session:
        return await queue.insert_events(session, [queue.event_row(e, NOW) for e in events])


async def claim(
    db: Database, worker: str, now: datetime = NOW, limit: int = 100
) -> list[RegistryEvent]:
    async with db.write() as session:
        claimed = await queue.claim(
            session, worker=worker, now=now, limit=limit, lease=LEASE, max_attempts=3
        )
    return claimed.events


async def test_migrations_and_models_agree(db: Database) -> None:
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert diff == []


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(
    sqlite_template: Path, tmp_path: Path
) -> None:
    async with (
        Database(databases.sqlite_clone(sqlite_template, tmp_path)) as db,
        db.read() as session,
    ):
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_sqlite_keeps_the_hub_rows_in_key_order(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Migration 0018: the findings tables are WITHOUT ROWID (the model says so too)."""
    async with (
        Database(databases.sqlite_clone(sqlite_template, tmp_path)) as db,
        db.read() as session,
    ):
        found = await session.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('findings', 'image_finding_groups')"
            )
        )
        tables = {name: sql for name, sql in found.all()}
    assert set(tables) == {"findings", "image_finding_groups"}
    assert all(sql.rstrip().endswith("WITHOUT ROWID") for sql in tables.values())


async def test_tag_names_are_unique_per_repository(db: Database) -> None:
    async with db.write() as session:
        registry_id = (
            await session.execute(
                text(
                    "INSERT INTO registries (name, url, created_at) VALUES ('r', 'u', :t) RETURNING id"
                ),
                {"t": NOW.replace(tzinfo=None)},
            )
        ).scalar_one()
        ns = Namespace(registry_id=registry_id, name="ns", created_at=NOW)
        session.add(ns)
        await session.flush()
        repo = Repository(
            registry_id=registry_id,
            namespace_id=ns.id,
            name="ns/app",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(repo)
        await session.flush()
        repo_id = repo.id

    def tag() -> Tag:
        return Tag(
            repository_id=repo_id,
            name="1.0",
            digest="sha256:x",
            platforms=[],
            scan_state="pending",
            source_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )

    async with db.write() as session:
        session.add(tag())
    with pytest.raises(StorageError):
        async with db.write() as session:
            session.add(tag())
    # Deleting the repository takes its tags (foreign keys are enforced on both backends).
    async with db.write() as session:
        await session.execute(text("DELETE FROM repositories"))
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Tag)) == 0


async def test_events_are_deduplicated_by_id(db: Database) -> None:
    assert await store_events(db, incoming(1), incoming(2)) == 2
    assert await store_events(db, incoming(2), incoming(3), incoming(3)) == 1
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(RegistryEvent)) == 3


async def test_claim_keeps_each_repository_in_order(db: Database) -> None:
    await store_events(db, incoming(1, "a"), incoming(2, "b"), incoming(3, "a"), incoming(4, "a"))
    first = await claim(db, "w1", limit=100)
    assert [(e.repository, e.tag) for e in first] == [
        ("a", "t1"),
        ("b", "t2"),
        ("a", "t3"),
        ("a", "t4"),
    ]
    assert all(e.status == "progress" and e.worker == "w1" and e.attempts == 1 for e in first)
    # Nothing is left for a second worker while the first one holds the heads.
    assert await claim(db, "w2") == []


async def test_a_repository_waits_behind_its_unfinished_head(db: Database) -> None:
    await store_events(db, incoming(1, "a"), incoming(2, "a"), incoming(3, "b"))
    (head,) = await claim(db, "w1", limit=1)
    assert head.tag == "t1"
    # w2 may take repository b, never a's second event while a's first is unfinished.
    assert [(e.repository, e.tag) for e in await claim(db, "w2")] == [("b", "t3")]
    async with db.write() as session:
        assert await queue.complete(session, [head.id], worker="w1", now=NOW) == 1
    assert [e.tag for e in await claim(db, "w2")] == ["t2"]


async def test_retry_waits_and_blocks_its_followers(db: Database) -> None:
    await store_events(db, incoming(1, "a"), incoming(2, "a"))
    head, follower = await claim(db, "w1")
    async with db.write() as session:
        await queue.retry_later(
            session, head.id, worker="w1", available_at=NOW + timedelta(seconds=10), error="down"
        )
        await queue.release(session, [follower.id], worker="w1")
    assert await claim(db, "w1") == []
    again = await claim(db, "w1", now=NOW + timedelta(seconds=11))
    assert [e.tag for e in again] == ["t1", "t2"]
    assert [e.attempts for e in again] == [2, 1]  # a release does not count as an attempt


async def test_an_expired_lease_is_claimed_again_then_failed(db: Database) -> None:
    await store_events(db, incoming(1))
    await claim(db, "dead-worker")
    assert await claim(db, "w2", now=NOW + timedelta(seconds=10)) == []
    for attempt in (2, 3):
        (event,) = await claim(db, "w2", now=NOW + attempt * LEASE * 2)
        assert event.attempts == attempt
    async with db.write() as session:
        result = await queue.claim(
            session, worker="w3", now=NOW + 10 * LEASE, limit=10, lease=LEASE, max_attempts=3
        )
    assert result.events == []
    assert result.expired_failed == 1
    async with db.read() as session:
        (failed,) = (await history.events(session, Window(10), status="failed")).page.rows
    assert "lease expired" in (failed.error or "")


async def test_complete_refuses_events_another_worker_took_over(db: Database) -> None:
    await store_events(db, incoming(1))
    (event,) = await claim(db, "slow")
    await claim(db, "fast", now=NOW + 2 * LEASE)
    async with db.write() as session:
        assert await queue.complete(session, [event.id], worker="slow", now=NOW) == 0


async def test_failed_events_are_replayed_and_done_ones_pruned(db: Database) -> None:
    await store_events(db, incoming(1), incoming(2, "b"))
    one, two = await claim(db, "w")
    async with db.write() as session:
        await queue.fail(session, one.id, worker="w", now=NOW, error="boom")
        await queue.complete(session, [two.id], worker="w", now=NOW)
    async with db.write() as session:
        assert await queue.counts(session) == {"fresh": 0, "progress": 0, "done": 1, "failed": 1}
        assert await queue.replay(session, None, NOW) == 1
        assert await queue.prune(session, NOW + timedelta(seconds=1)) == 1
        assert await queue.counts(session) == {"fresh": 1, "progress": 0, "done": 0, "failed": 0}


@pytest.mark.postgres
async def test_concurrent_workers_never_claim_the_same_event(pg_db: Database) -> None:
    """Several workers share one queue on PostgreSQL."""
    db = pg_db
    events = [incoming(n, f"repo{n % 40}") for n in range(400)]
    await store_events(db, *events)
    seen: list[tuple[str, int]] = []

    async def worker(name: str) -> None:
        while True:
            batch = await claim(db, name, limit=7)
            if not batch:
                return
            seen.extend((name, e.id) for e in batch)
            async with db.write() as session:
                await queue.complete(session, [e.id for e in batch], worker=name, now=NOW)

    await asyncio.gather(*(worker(f"w{i}") for i in range(6)))
    ids = [event_id for _, event_id in seen]
    assert len(ids) == len(set(ids)) == 400


def test_head_constant_is_alembics_head() -> None:
    from portside.db import migrate

    assert migrate.head_revision() == migrate.HEAD
