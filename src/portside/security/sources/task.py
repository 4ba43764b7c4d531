"""The background task that keeps vulnerability data current (``vulndb.*`` settings).

Each run updates the sources that are due (:func:`state.due`), under a lease so that several
background processes never fetch the same archives twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from portside.background.runtime import TaskRun
from portside.db import leases
from portside.db.engine import Database
from portside.security.sources.update import sources_now, update_round
from portside.settings import VulndbSettings

log = logging.getLogger(__name__)

LEASE = "vulndb"
TASK_INTERVAL = 60.0  # seconds between looks at which source is due (at most)


class VulndbTask:
    name = "vulndb"

    def __init__(
        self,
        db: Database,
        settings: VulndbSettings,
        work_dir: Path,
        *,
        worker: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.settings = settings
        self.work_dir = work_dir
        self.worker = worker
        self.clock = clock
        self.interval = min(settings.interval, settings.backoff_base, TASK_INTERVAL)
        self._sources: list[str] = []
        self._sources_at: datetime | None = None

    async def sources(self) -> list[str]:
        """The sources, derived from the scanned images' ecosystems at most once an interval
        (reading every stored package list each minute would cost more than it tells)."""
        now = self.clock()
        refresh = timedelta(seconds=self.settings.interval)
        if self._sources_at is None or not self._sources or now - self._sources_at >= refresh:
            self._sources = await sources_now(self.db, self.settings)
            self._sources_at = now
        return self._sources

    async def run_once(self) -> TaskRun:
        ttl = timedelta(seconds=self.settings.timeout * 2 + 60)
        if not await leases.acquire(self.db, LEASE, self.worker, self.clock(), ttl):
            return TaskRun(details={"skipped": "another process holds the vulndb lease"})
        try:
            outcome = await update_round(
                self.db, self.settings, self.work_dir, self.clock, urls=await self.sources()
            )
        finally:
            await leases.release(self.db, LEASE, self.worker)
        details = {
            "sources": [
                {
                    "url": s.url,
                    "not_modified": s.not_modified,
                    "records": s.records,
                    "changed": s.changed,
                    "withdrawn": s.withdrawn,
                    "error": s.error,
                }
                for s in outcome.sources
            ],
            "rematched": outcome.rematched.images if outcome.rematched else 0,
        }
        return TaskRun(changed=bool(outcome.sources), details=details)
