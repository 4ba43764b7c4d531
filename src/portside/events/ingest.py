"""Durable, fast storage of incoming events: a group-commit writer.

Each webhook request hands its events to :meth:`EventIngestor.submit` and waits until they are
committed. One writer task takes everything submitted meanwhile and stores it in one
transaction, so a burst of notifications costs one commit per batch, not one per request, and
no request is answered before its events are on disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portside.db.engine import Database
from portside.errors import StorageError
from portside.events import queue
from portside.lifecycle import Resource

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    batches: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, verdict: str, n: int = 1) -> None:
        self.dropped[verdict] = self.dropped.get(verdict, 0) + n


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
        self._pending: deque[tuple[list[dict[str, Any]], asyncio.Future[int]]] = deque()
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

    async def submit(self, rows: list[dict[str, Any]]) -> int:
        """Store rows durably; return how many were new. Raises StorageError if not stored."""
        if self._closing or self._task is None:
            raise StorageError("the event ingestor is not running")
        if not rows:
            return 0
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
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
                await self._store(batch)
            if self._closing and not self._pending:
                return

    async def _store(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future[int]]]) -> None:
        rows = [row for rows, _ in batch for row in rows]
        try:
            new_ids = await self.db.run_write(lambda conn: queue.insert_events_sync(conn, rows))
        except Exception as exc:
            log.error("storing %d events failed: %s", len(rows), exc)
            error = exc if isinstance(exc, StorageError) else StorageError(str(exc))
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.stats.batches += 1
        self.stats.stored += len(new_ids)
        self.stats.duplicates += len(rows) - len(new_ids)
        for rows_of, future in batch:
            if not future.done():
                future.set_result(len({row["event_id"] for row in rows_of} & new_ids))
        if new_ids and self.on_stored is not None:
            self.on_stored()
