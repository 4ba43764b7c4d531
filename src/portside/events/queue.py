"""The durable event queue in the ``registry_events`` table: all of its SQL is here.

Claiming keeps the events of one repository in order across any number of workers: only the
*head* of a repository (its oldest unfinished event) can be claimed, with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, and the claiming worker takes the events queued behind it at once.
A claimed event carries a lease; an event whose lease expired is claimable again, and one
that expired ``max_attempts`` times is marked failed instead of being retried forever.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from portside.db.conflict import conflict_insert
from portside.db.leases import reap_expired_sync
from portside.db.models import RegistryEvent
from portside.db.types import UTCDateTime
from portside.errors import StorageError
from portside.events.envelope import IncomingEvent

FRESH, PROGRESS, DONE, FAILED = "fresh", "progress", "done", "failed"
STATUSES = (FRESH, PROGRESS, DONE, FAILED)


class LeaseLost(StorageError):
    """Another worker took over a batch's events (our lease expired)."""


def event_row(event: IncomingEvent, received_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "action": event.action,
        "repository": event.repository,
        "tag": event.tag,
        "digest": event.digest,
        "media_type": event.media_type,
        "actor": event.actor,
        "occurred_at": event.occurred_at,
        "received_at": received_at,
        "data": event.data,
        "status": FRESH,
        "attempts": 0,
        "available_at": received_at,
    }


def insert_events_sync(connection: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert events, skipping ids already stored; return the event ids that were new."""
    if not rows:
        return set()
    unique = list({row["event_id"]: row for row in rows}.values())
    stmt = (
        conflict_insert(connection.dialect.name, RegistryEvent)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(RegistryEvent.event_id)
    )
    return set(connection.execute(stmt, unique).scalars().all())


async def insert_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """:func:`insert_events_sync` inside an async session; returns how many were new."""
    connection = await session.connection()
    return len(await connection.run_sync(insert_events_sync, rows))


@dataclass(frozen=True)
class Claimed:
    events: list[RegistryEvent]
    expired_failed: int


@dataclass(frozen=True)
class _ClaimStatements:
    heads: Any
    followers: Any
    take: Any
    load: Any


@functools.cache
def _claim_statements() -> _ClaimStatements:
    """The claim's statements, built once (a claim per batch is a hot path; their
    parameters are bound per call)."""
    earlier = aliased(RegistryEvent)
    blocked = exists().where(
        earlier.repository == RegistryEvent.repository,
        earlier.id < RegistryEvent.id,
        earlier.status.in_((FRESH, PROGRESS)),
    )
    when = UTCDateTime()
    return _ClaimStatements(
        heads=select(RegistryEvent.id, RegistryEvent.repository)
        .where(
            RegistryEvent.status == FRESH,
            RegistryEvent.available_at <= bindparam("now", type_=when),
            ~blocked,
        )
        .order_by(RegistryEvent.id)
        .limit(bindparam("limit", type_=Integer()))
        .with_for_update(skip_locked=True),
        followers=select(RegistryEvent.id, RegistryEvent.repository, RegistryEvent.available_at)
        .where(
            RegistryEvent.repository.in_(bindparam("repositories", expanding=True)),
            RegistryEvent.status == FRESH,
            RegistryEvent.id.not_in(bindparam("heads", expanding=True)),
        )
        .order_by(RegistryEvent.id)
        .limit(bindparam("room", type_=Integer()))
        .with_for_update(skip_locked=True),
        take=update(RegistryEvent)
        .where(RegistryEvent.id.in_(bindparam("ids", expanding=True)))
        .values(
            status=PROGRESS,
            worker=bindparam("holder"),
            lease_until=bindparam("until", type_=when),
            attempts=RegistryEvent.attempts + 1,
        )
        .execution_options(synchronize_session=False),
        load=select(RegistryEvent)
        .where(RegistryEvent.id.in_(bindparam("ids", expanding=True)))
        .order_by(RegistryEvent.id)
        .execution_options(populate_existing=True),
    )


def claim_sync(
    session: Session,
    *,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    max_attempts: int,
    reap: bool = True,
) -> Claimed:
    """Claim up to ``limit`` events, in order per repository. Run inside a write transaction.
    ``reap=False`` skips freeing expired claims (a caller that reaps every few seconds)."""
    expired_failed = 0
    if reap:
        expired_failed = reap_expired_sync(
            session,
            RegistryEvent,
            now=now,
            max_attempts=max_attempts,
            waiting=FRESH,
            message="lease expired too many times: a worker died or hung while processing it",
            processed_at=now,
        )
    statements = _claim_statements()
    heads = session.execute(statements.heads, {"now": now, "limit": limit}).all()
    if not heads:
        return Claimed([], expired_failed)
    ids = [row.id for row in heads]
    first = {row.repository: row.id for row in reversed(heads)}
    room = limit - len(ids)
    if room > 0:
        ids.extend(_followers(session, first, now, room))
    session.execute(statements.take, {"ids": ids, "holder": worker, "until": now + lease})
    events = list(session.scalars(statements.load, {"ids": ids}).all())
    return Claimed(events, expired_failed)


async def claim(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    max_attempts: int,
) -> Claimed:
    """:func:`claim_sync` in an async session."""
    return await session.run_sync(
        lambda sync: claim_sync(
            sync, worker=worker, now=now, limit=limit, lease=lease, max_attempts=max_attempts
        )
    )


def claim_on(
    connection: Connection,
    *,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    max_attempts: int,
    reap: bool = True,
) -> Claimed:
    """:func:`claim_sync` on a connection in a write transaction (:meth:`Database.run_write`:
    on SQLite the whole claim is one hand-off to a worker thread, so the write lock is not
    held across event-loop turns); the events come back detached, fully loaded."""
    with Session(bind=connection, expire_on_commit=False) as session:
        claimed = claim_sync(
            session,
            worker=worker,
            now=now,
            limit=limit,
            lease=lease,
            max_attempts=max_attempts,
            reap=reap,
        )
        session.flush()
        session.expunge_all()
    return claimed


def _followers(session: Session, heads: dict[str, int], now: datetime, room: int) -> list[int]:
    """The fresh events queued right behind each claimed head, up to the first one waiting."""
    rows = session.execute(
        _claim_statements().followers,
        {"repositories": list(heads), "heads": list(heads.values()), "room": room},
    )
    taken: list[int] = []
    stopped: set[str] = set()
    for row in rows.all():
        if row.repository in stopped or row.id < heads[row.repository]:
            continue
        if row.available_at > now:
            stopped.add(row.repository)
            continue
        taken.append(row.id)
    return taken


async def claimable(session: AsyncSession, now: datetime) -> bool:
    """Whether a claim could find anything (a read, so an idle worker takes no write lock)."""
    found = await session.scalar(
        select(RegistryEvent.id)
        .where(
            or_(
                and_(RegistryEvent.status == FRESH, RegistryEvent.available_at <= now),
                and_(RegistryEvent.status == PROGRESS, RegistryEvent.lease_until < now),
            )
        )
        .limit(1)
    )
    return found is not None


@functools.cache
def _complete_statement() -> Any:
    return (
        update(RegistryEvent)
        .where(
            RegistryEvent.id.in_(bindparam("ids", expanding=True)),
            RegistryEvent.worker == bindparam("holder"),
            RegistryEvent.status == PROGRESS,
        )
        .values(
            status=DONE,
            processed_at=bindparam("now", type_=UTCDateTime()),
            lease_until=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )


def _complete(ids: list[int], worker: str, now: datetime) -> tuple[Any, dict[str, Any]]:
    return _complete_statement(), {"ids": ids, "holder": worker, "now": now}


async def complete(session: AsyncSession, ids: Iterable[int], *, worker: str, now: datetime) -> int:
    """Mark events done; returns how many this worker still held (fewer: its lease was lost)."""
    ids = list(ids)
    if not ids:
        return 0
    result = await session.execute(*_complete(ids, worker, now))
    return int(getattr(result, "rowcount", 0) or 0)


def complete_on(connection: Connection, ids: Iterable[int], *, worker: str, now: datetime) -> int:
    """:func:`complete` on a connection in a write transaction."""
    ids = list(ids)
    if not ids:
        return 0
    result = connection.execute(*_complete(ids, worker, now))
    return int(getattr(result, "rowcount", 0) or 0)


async def retry_later(
    session: AsyncSession, event_id: int, *, worker: str, available_at: datetime, error: str
) -> None:
    await session.execute(
        update(RegistryEvent)
        .where(RegistryEvent.id == event_id, RegistryEvent.worker == worker)
        .values(status=FRESH, worker=None, lease_until=None, available_at=available_at, error=error)
    )


async def fail(
    session: AsyncSession, event_id: int, *, worker: str, now: datetime, error: str
) -> None:
    await session.execute(
        update(RegistryEvent)
        .where(RegistryEvent.id == event_id, RegistryEvent.worker == worker)
        .values(status=FAILED, worker=None, lease_until=None, processed_at=now, error=error)
    )


async def release(session: AsyncSession, ids: Iterable[int], *, worker: str) -> None:
    """Give back claimed events untouched (their attempt is not counted)."""
    ids = list(ids)
    if ids:
        await session.execute(
            update(RegistryEvent)
            .where(RegistryEvent.id.in_(ids), RegistryEvent.worker == worker)
            .values(
                status=FRESH, worker=None, lease_until=None, attempts=RegistryEvent.attempts - 1
            )
        )


async def replay(session: AsyncSession, ids: Iterable[int] | None, now: datetime) -> int:
    """Put failed events (all of them, or these) back in the queue with a fresh attempt count."""
    stmt = update(RegistryEvent).where(RegistryEvent.status == FAILED)
    if ids is not None:
        stmt = stmt.where(RegistryEvent.id.in_(list(ids)))
    result = await session.execute(
        stmt.values(status=FRESH, attempts=0, available_at=now, processed_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def statuses(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    """The status of each of these events that exists."""
    rows = await session.execute(
        select(RegistryEvent.id, RegistryEvent.status).where(RegistryEvent.id.in_(list(ids)))
    )
    return {int(row.id): str(row.status) for row in rows}


async def prune(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(RegistryEvent).where(
            RegistryEvent.status == DONE, RegistryEvent.processed_at < before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(RegistryEvent.status, func.count()).group_by(RegistryEvent.status)
    )
    found = {status: 0 for status in STATUSES}
    found.update({status: int(n) for status, n in rows.all()})
    return found


async def next_available(session: AsyncSession) -> datetime | None:
    """When the earliest waiting event becomes claimable."""
    return await session.scalar(
        select(func.min(RegistryEvent.available_at)).where(RegistryEvent.status == FRESH)
    )
