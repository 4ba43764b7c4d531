"""The index's write operations (issue 11, item 1): each records its activity, a pointed tag
follows its digest's scan, an emptied repository is dropped, and the batch form (new tags
inserted together) writes the same rows as the one-by-one form. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from portside.db.engine import Database
from portside.db.models import Activity, Repository, ScanTarget, Tag
from portside.index import store
from portside.index.vocabulary import ActivityKind, ScanTargetStatus, TagScanState
from portside.index.writes import IndexWrites, Origin, Pointing
from portside.registry.images import ImageInfo

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def image(digest: str) -> ImageInfo:
    return ImageInfo(digest=digest, media_type=MANIFEST, size=10)


async def activities(db: Database) -> list[tuple[str, str | None, str | None, dict[str, object]]]:
    async with db.read() as session:
        rows = await session.scalars(select(Activity).order_by(Activity.id))
        return [(a.kind, a.repository, a.tag, a.details) for a in rows.all()]


async def test_each_write_records_its_activity(db: Database) -> None:
    push = Origin("alice", NOW - timedelta(minutes=1))
    sync = Origin("portside-sync", NOW, source="sync")
    async with db.write() as session:
        session.add(
            ScanTarget(
                digest=B,
                repository="ns/app",
                status=ScanTargetStatus.DONE,
                available_at=NOW,
                created_at=NOW,
            )
        )
        registry_id = await store.ensure_registry(session, "http://registry", NOW)
        writes = IndexWrites(session, NOW)
        repos = await writes.create_repositories(
            registry_id, {"ns/app": push, "ns/other": sync}, with_tags=False
        )
        tags: dict[str, Tag] = {}
        writes.point(repos["ns/app"], tags, Pointing("1.0", image(A), None, push, seq=7))
        writes.point_new(repos["ns/other"], Pointing("2.0", image(B), None, sync))
        await writes.finish()

    async with db.read() as session:
        found = {t.name: t for t in (await session.scalars(select(Tag))).all()}
    assert found["1.0"].author == "alice" and found["1.0"].source_seq == 7
    assert found["1.0"].pushed_at == push.at and found["1.0"].scan_state == TagScanState.PENDING
    # The batch form writes a new tag as the sync did: no author, no push time, and the
    # scan state of its digest at once.
    assert found["2.0"].author is None and found["2.0"].pushed_at is None
    assert found["2.0"].source_seq is None and found["2.0"].source_at == NOW
    assert found["2.0"].scan_state == TagScanState.DONE
    assert await activities(db) == [
        (ActivityKind.REPOSITORY_CREATE, "ns/app", None, {}),
        (ActivityKind.REPOSITORY_CREATE, "ns/other", None, {"source": "sync"}),
        (ActivityKind.TAG_PUSH, "ns/app", "1.0", {"previous_digest": None}),
        (ActivityKind.TAG_PUSH, "ns/other", "2.0", {"previous_digest": None, "source": "sync"}),
    ]

    async with db.write() as session:  # a move onto the scanned digest, then removals
        writes = IndexWrites(session, NOW)
        repos = await store.repositories_by_name(session, registry_id, ["ns/app", "ns/other"])
        app, other = repos["ns/app"], repos["ns/other"]
        tags = {t.name: t for t in app.tags}
        writes.point(app, tags, Pointing("1.0", image(B), A, sync))
        writes.remove(other, other.tags[0], sync)
        writes.drop_if_emptied(other, Origin(None, NOW), reason="its last tag was deleted")
        writes.drop_if_emptied(app, Origin(None, NOW), reason="its last tag was deleted")
        await writes.finish()

    async with db.read() as session:
        names = (await session.scalars(select(Repository.name))).all()
        moved = await session.scalar(select(Tag).where(Tag.name == "1.0"))
    assert names == ["ns/app"]  # the emptied one is dropped, the other kept
    assert moved is not None and moved.digest == B and moved.scan_state == TagScanState.DONE
    assert moved.author == "alice" and moved.source_seq is None  # a sync move keeps the author
    assert (await activities(db))[4:] == [
        (ActivityKind.TAG_PUSH, "ns/app", "1.0", {"previous_digest": A, "source": "sync"}),
        (ActivityKind.TAG_DELETE, "ns/other", "2.0", {"source": "sync"}),
        (ActivityKind.REPOSITORY_DELETE, "ns/other", None, {"reason": "its last tag was deleted"}),
    ]
