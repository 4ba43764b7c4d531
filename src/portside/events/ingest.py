"""Durable, fast storage of incoming events: a group-commit writer.

Each webhook request hands its events to :meth:`EventIngestor.submit` and waits until they are
committed. One writer task takes everything submitted meanwhile and stores it in one
transaction, so a burst of notifications costs one commit per batch, not one per request, and
no request is answered before its events are on disk. Rows go in in the order they were
submitted (requests in arrival order, each request's events in envelope order), so the
autoincrement ``id`` is the order the registry sent them.

One bad row never fails its neighbours: the webhook validates everything the database could
refuse before it submits, and if a batch still fails, its requests are stored one by one, and
the rows of a request that fails alone one by one, so only the culprit is refused. A row the
database refuses comes back in :attr:`Stored.rejected`; only an outage (the database down, not
a value it refuses) fails a request, with a :class:`StorageError` that carries no SQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from portside.db.engine import Database
from portside.errors import StorageError
from portside.events import queue
from portside.lifecycle import Resource

log = logging.getLogger(__name__)

STORE_FAILED = "the events could not be stored now; the registry will send them again"


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    batches: int = 0
    clamped: int = 0  # timestamps too far ahead, recorded as the receive time
    dropped: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)

    def drop(self, verdict: str, n: int = 1) -> None:
        self.dropped[verdict] = self.dropped.get(verdict, 0) + n

    def refuse(self, reason: str, n: int = 1) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + n


@dataclass(frozen=True)
class Stored:
    """What became of one request's rows: how many were new, which ids the database refused."""

    new: int
    rejected: list[str] = field(default_factory=list)


def refused_by_database(exc: BaseException) -> bool:
    """True when the database refused a value (the row's fault), not when it was unreachable."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DataError | IntegrityError):
            return True
        if isinstance(seen, StatementError) and not isinstance(seen, DBAPIError):
            return True  # a value no bind processor could encode
        if isinstance(seen, ValueError | OverflowError | UnicodeError):
            return True
        # PostgreSQL's SQLSTATE classes 22 (data exception) and 23 (integrity violation).
        sqlstate = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_Pending = tuple[list[dict[str, Any]], "asyncio.Future[Stored]"]


class EventIngestor(Resource):
    """``async with EventIngestor(db) as ingest: await ingest.submit(rows)``"""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 2000,
        on_stored: Callable[[], None] | None = None,
    ):
        self.db = db
        self.max_batch = max_batch
        self.on_stored = on_stored
        self.stats = IngestStats()
        self._pending: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def open(self) -> None:
        self._task = asyncio.create_task(self._writer(), name="portside-ingest")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def submit(self, rows: list[dict[str, Any]]) -> Stored:
        """Store rows durably. Raises StorageError (no SQL in it) if the database is down."""
        if self._closing or self._task is None:
            raise StorageError("the event ingestor is not running")
        if not rows:
            return Stored(0)
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, future))
        self._wake.set()
        return await future

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, size = [], 0
                while self._pending and size < self.max_batch:
                    item = self._pending.popleft()
                    batch.append(item)
                    size += len(item[0])
                try:
                    await self._store(batch)
                except Exception:  # never leave a request waiting, never stop the writer
                    log.exception("event ingest: storing a batch failed unexpectedly")
                    self._fail([future for _, future in batch])
            if self._closing and not self._pending:
                return

    async def _insert(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        new_ids = await self.db.run_write(
            lambda conn: queue.insert_events_sync(conn, rows), urgent=True
        )
        self.stats.batches += 1
        self.stats.stored += len(new_ids)
        return new_ids

    async def _store(self, batch: list[_Pending]) -> None:
        rows = [row for rows, _ in batch for row in rows]
        before = self.stats.stored
        try:
            new_ids = await self._insert(rows)
        except Exception as exc:
            if not refused_by_database(exc):
                log.error("event ingest: storing %d events failed: %s", len(rows), exc)
                self._fail([future for _, future in batch])
                return
            log.warning(
                "event ingest: the database refused a batch of %d requests; storing them alone",
                len(batch),
                extra={"requests": len(batch), "events": len(rows), "error": str(exc)},
            )
            for rows_of, future in batch:
                await self._store_alone(rows_of, future)
        else:
            self.stats.duplicates += len(rows) - len(new_ids)
            for rows_of, future in batch:
                ids = {row["event_id"] for row in rows_of}
                if not future.done():
                    future.set_result(Stored(len(ids & new_ids)))
        if self.stats.stored > before and self.on_stored is not None:
            self.on_stored()

    async def _store_alone(
        self, rows: list[dict[str, Any]], future: asyncio.Future[Stored]
    ) -> None:
        """One request's rows in their own transaction, then row by row if that fails too."""
        try:
            new_ids = await self._insert(rows)
        except Exception as exc:
            if not refused_by_database(exc) or len(rows) == 1:
                self._settle_rows(rows, future, exc, [])
                return
            new, rejected = 0, list[str]()
            for row in rows:
                try:
                    inserted = len(await self._insert([row]))
                    new += inserted
                    self.stats.duplicates += 1 - inserted
                except Exception as row_exc:
                    if not refused_by_database(row_exc):
                        self._settle_rows([row], future, row_exc, rejected)
                        return
                    rejected.append(self._reject(row, row_exc))
            if not future.done():
                future.set_result(Stored(new, rejected))
            return
        self.stats.duplicates += len(rows) - len(new_ids)
        if not future.done():
            future.set_result(Stored(len(new_ids)))

    def _settle_rows(
        self,
        rows: list[dict[str, Any]],
        future: asyncio.Future[Stored],
        exc: BaseException,
        rejected: list[str],
    ) -> None:
        if refused_by_database(exc):  # a single row: the culprit
            rejected.append(self._reject(rows[0], exc))
            if not future.done():
                future.set_result(Stored(0, rejected))
            return
        log.error("event ingest: storing %d events failed: %s", len(rows), exc)
        self._fail([future])

    def _reject(self, row: dict[str, Any], exc: BaseException) -> str:
        event_id = str(row.get("event_id"))
        log.warning(
            "event ingest: the database refused event %r: %s",
            event_id,
            exc,
            extra={"event_id": event_id, "reason": "storage", "error": str(exc)},
        )
        return event_id

    @staticmethod
    def _fail(futures: list[asyncio.Future[Stored]]) -> None:
        for future in futures:
            if not future.done():
                future.set_exception(StorageError(STORE_FAILED))
