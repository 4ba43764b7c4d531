"""The registry-events background task: process the queue, prune old done events."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from portside.background.runtime import TaskRun
from portside.db.engine import Database
from portside.events import queue
from portside.events.processor import EventProcessor
from portside.settings import EventsTaskSettings

log = logging.getLogger(__name__)

PRUNE_EVERY = 600.0  # seconds


class EventsTask:
    name = "events"

    def __init__(
        self,
        db: Database,
        processor: EventProcessor,
        settings: EventsTaskSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.processor = processor
        self.settings = settings
        self.interval = settings.interval
        self.clock = clock
        self._last_prune = 0.0
        self.totals = {"processed": 0, "retried": 0, "failed": 0, "pruned": 0}

    async def run_once(self) -> TaskRun:
        result = await self.processor.run_batch()
        self.totals["processed"] += result.done
        self.totals["retried"] += result.retried
        self.totals["failed"] += result.failed
        if time.monotonic() - self._last_prune >= PRUNE_EVERY:
            await self.prune()
        details = {"last_batch": asdict(result), "totals": dict(self.totals)}
        return TaskRun(
            more=result.claimed > 0 and result.done + result.failed > 0,
            changed=result.claimed > 0,
            details=details,
        )

    async def prune(self) -> int:
        before = self.clock() - timedelta(seconds=self.settings.retention)
        async with self.db.write() as session:
            pruned = await queue.prune(session, before)
        self._last_prune = time.monotonic()
        self.totals["pruned"] += pruned
        if pruned:
            log.info(
                "pruned %d done events older than %s",
                pruned,
                before.isoformat(),
                extra={"task": "events", "pruned": pruned},
            )
        return pruned
