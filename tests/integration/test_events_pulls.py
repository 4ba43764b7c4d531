"""Pull events applied folded, off the ORM (issue 10, item 8): a chunk's pulls of a repository
give the tags the same ``pulled_at`` as the same pulls applied one by one through the ORM path,
and a batch whose lease was lost changes nothing. SQLite and PostgreSQL. Pulls need no
registry: nothing listens at the registry URL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from portside.db.engine import Database
from portside.db.models import RegistryEvent, Repository, Tag
from portside.events import queue
from portside.events.processor import EventProcessor, split_pulls
from portside.events.pulls import apply_pulls
from portside.index import store
from portside.index.writes import IndexWrites, Origin, Pointing
from portside.registry.client import RegistryClient
from portside.registry.images import ImageInfo
from portside.settings import EventsTaskSettings, RegistrySettings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
A, B, C = ("sha256:" + c * 64 for c in "abc")
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
NOWHERE = "http://127.0.0.1:9"
TAGS = {"a": A, "b": A, "c": B}


async def index(db: Database, repositories: list[str]) -> None:
    async with db.write() as session:
        registry_id = await store.ensure_registry(session, NOWHERE, NOW)
        writes = IndexWrites(session, NOW)
        repos = await writes.create_repositories(
            registry_id, {name: Origin("ci", NOW) for name in repositories}, with_tags=False
        )
        for repo in repos.values():
            for name, digest in TAGS.items():
                image = ImageInfo(digest=digest, media_type=MANIFEST, size=10)
                writes.point_new(repo, Pointing(name, image, None, Origin("ci", NOW)))
        await writes.finish()


def row(n: int, repository: str, action: str, *, tag: str | None, digest: str | None, at: int):
    when = NOW + timedelta(hours=1, seconds=at)
    return {
        "event_id": f"e-{repository}-{n}",
        "action": action,
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "media_type": MANIFEST,
        "actor": None,
        "occurred_at": when,
        "received_at": when,
        "data": {},
        "status": queue.FRESH,
        "attempts": 0,
        "available_at": NOW,
    }


def pulls(repository: str, start: int = 0) -> list[dict[str, Any]]:
    spec: list[tuple[str | None, str | None, int]] = [
        (None, A, 0),  # by digest: a and b
        ("a", None, 30),  # under the resolution (60 s): not written
        ("a", None, 70),
        ("a", None, 100),  # 30 s after the last write: not written, although the latest
        ("c", None, 10),
        ("unknown", None, 20),
    ]
    return [
        row(start + n, repository, "pull", tag=tag, digest=digest, at=at)
        for n, (tag, digest, at) in enumerate(spec)
    ]


async def pulled_at(db: Database, repository: str) -> dict[str, datetime | None]:
    async with db.read() as session:
        rows = await session.execute(
            select(Tag.name, Tag.pulled_at)
            .join(Repository, Repository.id == Tag.repository_id)
            .where(Repository.name == repository)
        )
        return {name: at for name, at in rows.all()}


async def test_folded_pulls_leave_the_tags_as_pulls_one_by_one_do(db: Database) -> None:
    await index(db, ["ns/folded", "ns/orm"])
    # ns/orm's chunk holds a delete (of a digest no tag has: it changes nothing), so its pulls
    # take the ORM path one by one; ns/folded's are all pulls: folded, in one statement.
    rows = [
        *pulls("ns/folded"),
        row(100, "ns/orm", "delete", tag=None, digest=C, at=0),
        *pulls("ns/orm", start=101),
        *pulls("ns/absent", start=200),  # a repository the index does not have
    ]
    async with db.write() as session:
        await queue.insert_events(session, rows)
        claimed = await queue.claim(
            session, worker="probe", now=NOW, limit=100, lease=timedelta(0), max_attempts=9
        )
        folded, rest = split_pulls(claimed.events, set())
        assert set(folded) == {"ns/folded", "ns/absent"}
        assert {e.repository for e in rest} == {"ns/orm"}
        await queue.release(session, [e.id for e in claimed.events], worker="probe")
    settings = EventsTaskSettings(pull_resolution=60)
    async with RegistryClient(RegistrySettings(url=NOWHERE)) as client:
        processor = EventProcessor(db, client, settings, worker="w", clock=lambda: NOW)
        result = await processor.run_batch(describe=False)
    assert (result.claimed, result.done, result.failed, result.retried) == (19, 19, 0, 0)
    expected = {
        "a": NOW + timedelta(hours=1, seconds=70),
        "b": NOW + timedelta(hours=1),
        "c": NOW + timedelta(hours=1, seconds=10),
    }
    assert await pulled_at(db, "ns/folded") == expected
    assert await pulled_at(db, "ns/orm") == expected
    async with db.read() as session:
        assert await queue.counts(session) == {"fresh": 0, "progress": 0, "done": 19, "failed": 0}


async def test_pulls_whose_lease_was_lost_change_nothing(db: Database) -> None:
    await index(db, ["ns/app"])
    async with db.write() as session:
        await queue.insert_events(session, pulls("ns/app"))
        claimed = await queue.claim(
            session, worker="w", now=NOW, limit=100, lease=timedelta(minutes=1), max_attempts=9
        )
    by_repo, _ = split_pulls(claimed.events, set())
    async with db.write() as session:  # another worker took one over after our lease expired
        await session.execute(
            update(RegistryEvent)
            .where(RegistryEvent.id == claimed.events[-1].id)
            .values(worker="other")
        )
    with pytest.raises(queue.LeaseLost):
        await db.run_write(
            lambda conn: apply_pulls(
                conn, by_repo, resolution=timedelta(seconds=60), worker="w", now=NOW
            )
        )
    assert await pulled_at(db, "ns/app") == {"a": None, "b": None, "c": None}
    async with db.read() as session:
        assert (await queue.counts(session))["progress"] == 6
