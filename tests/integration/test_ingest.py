"""The group-commit ingestor on SQLite and PostgreSQL: one row the database refuses never fails
its neighbours. The rows here skip the webhook's validation on purpose (they are what the
validation exists to stop), to prove the fallback behind it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portside.db.engine import Database
from portside.db.models import RegistryEvent
from portside.events.envelope import IncomingEvent
from portside.events.ingest import EventIngestor, Stored
from portside.events.queue import event_row

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def row(event_id: str, **changes: object) -> dict[str, object]:
    event = IncomingEvent(
        event_id=event_id,
        action="push",
        repository="ns/app",
        tag="1.0",
        digest="sha256:" + "a" * 64,
        media_type="application/vnd.oci.image.manifest.v1+json",
        actor="alice",
        user_agent=None,
        occurred_at=NOW,
        data={"id": event_id},
    )
    return {**event_row(event, NOW), **changes}


YEAR_ONE = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
POISONS = {
    "year-1": {"occurred_at": YEAR_ONE},
    "surrogate": {"actor": "\ud800"},
}
PG_POISONS = {"nul": {"actor": "al\x00ice"}, "long": {"tag": "t" * 200}}


async def stored_ids(db: Database) -> list[str]:
    async with db.read() as session:
        query = select(RegistryEvent.event_id).order_by(RegistryEvent.id)
        return list((await session.scalars(query)).all())


@pytest.mark.parametrize("poison", [*POISONS, *PG_POISONS])
async def test_a_row_the_database_refuses_fails_alone(db: Database, poison: str) -> None:
    changes = POISONS.get(poison) or PG_POISONS[poison]
    if poison in PG_POISONS and db.dialect != "postgresql":
        pytest.skip("SQLite stores NUL and over-long text as they are")
    async with EventIngestor(db) as ingest:
        requests = [[row(f"good-{i}-a"), row(f"good-{i}-b")] for i in range(20)]
        poisoned = [row("before"), row("bad", **changes), row("after")]
        requests.insert(10, poisoned)
        results = await asyncio.gather(*(ingest.submit(rows) for rows in requests))
    for rows, result in zip(requests, results, strict=True):
        if rows is poisoned:
            assert result == Stored(2, ["bad"])
        else:
            assert result == Stored(2)
    # Everything but the culprit is stored, in the order it was submitted.
    expected = [r["event_id"] for rows in requests for r in rows if r["event_id"] != "bad"]
    assert await stored_ids(db) == expected
