"""The activity timeline (what the principal may see of it) and the registry events (for who
reads everything: the callers check), newest first, paged by id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts.policy import Principal
from portside.db.models import Activity, RegistryEvent
from portside.events import queue as event_queue
from portside.reads import visible
from portside.reads.counting import bounded_count, table_count
from portside.reads.paging import Key, Slice, Window, finish, keyset


def _time_key(key: Key) -> tuple[Any, ...] | None:
    try:
        at = datetime.fromisoformat(str(key[0]))
    except ValueError:
        return None
    if at.tzinfo is None or not isinstance(key[1], int):
        return None
    return (at, key[1])


async def activities(
    session: AsyncSession,
    window: Window,
    *,
    principal: Principal,
    repository: str | None = None,
    kind: str | None = None,
    count: bool = True,
    by_time: bool = False,
) -> Slice[Activity]:
    """Newest first: by id (the order they were recorded), or ``by_time`` by when they
    happened (then id); ``count=False`` leaves the total out (the timeline only grows). Only
    the activities of the namespaces the principal may see (:func:`.visible.activities`)."""
    seen = visible.activities(principal)
    query = visible.only(select(Activity), seen)
    matching = visible.only(select(Activity.id), seen)
    if repository:
        query, matching = (
            query.where(Activity.repository == repository),
            matching.where(Activity.repository == repository),
        )
    if kind:
        query, matching = query.where(Activity.kind == kind), matching.where(Activity.kind == kind)
    if by_time:
        limited, cursor = keyset(
            query, [Activity.at, Activity.id], window, descending=True, values=_time_key
        )
        rows = list((await session.scalars(limited)).all())
        done = finish(rows, lambda a: (a.at.isoformat(), a.id), window, cursor)
    else:
        limited, cursor = keyset(query, [Activity.id], window, descending=True)
        rows = list((await session.scalars(limited)).all())
        done = finish(rows, lambda a: (a.id,), window, cursor)
    total, estimated = None, False
    if count and (repository or kind or seen is not None):
        total, estimated = await bounded_count(session, matching)
    elif count:
        total, estimated = await table_count(session, Activity)
    return Slice(done.rows, done.next, done.previous, total, estimated, done.page, done.first)


@dataclass(frozen=True)
class EventList:
    page: Slice[RegistryEvent]
    counts: dict[str, int]  # every event by status


async def events(session: AsyncSession, window: Window, *, status: str | None) -> EventList:
    """Registry events newest first, ``status`` one of :data:`event_queue.STATUSES`. Not
    filtered: only a principal who reads everything may see them (the callers check)."""
    query = select(RegistryEvent)
    if status:
        query = query.where(RegistryEvent.status == status)
    limited, cursor = keyset(query, [RegistryEvent.id], window, descending=True)
    rows = list((await session.scalars(limited)).all())
    done = finish(rows, lambda e: (e.id,), window, cursor)
    counts = await event_queue.counts(session)
    total = counts.get(status, 0) if status else sum(counts.values())
    return EventList(
        Slice(done.rows, done.next, done.previous, total, False, done.page, done.first), counts
    )
