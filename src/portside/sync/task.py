"""The registry-synchronization background task, with Portus's strategies.

- ``update-delete``: add, update and delete, every ``interval``;
- ``update``: add and update, never delete;
- ``on-start``: one full run at start, then the task stops;
- ``initial``: one run, only if the index is empty, then the task stops.

With several background processes, one sync runs at a time (a lease in the database).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from portside.background.runtime import TaskRun
from portside.db import leases
from portside.db.engine import Database
from portside.index import store
from portside.registry.client import RegistryClient
from portside.registry.image_cache import ImageCache
from portside.settings import RegistrySettings, SyncStrategy, SyncTaskSettings
from portside.sync.one_pass import Progress, SyncOptions, SyncReport, SyncRun

log = logging.getLogger(__name__)

LEASE = "sync"
LEASE_TTL = timedelta(minutes=5)


def options_for(
    strategy: SyncStrategy,
    sync: SyncTaskSettings,
    registry: RegistrySettings,
    *,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
) -> SyncOptions:
    return SyncOptions(
        deletes=strategy is not SyncStrategy.UPDATE,
        dry_run=dry_run,
        allow_mass_delete=allow_mass_delete,
        max_delete_share=sync.max_delete_share,
        page_size=registry.catalog_page,
        concurrency=registry.concurrency,
    )


def report_details(report: SyncReport) -> dict[str, Any]:
    return {
        "started_at": report.started_at.isoformat() if report.started_at else None,
        "duration": round(report.duration, 3),
        "index_duration": round(report.index_duration, 3),
        "requests": report.requests,
        "images_described": report.describe.images if report.describe else 0,
        **asdict(report.summary),
    }


async def run_sync(
    db: Database,
    client: RegistryClient,
    options: SyncOptions,
    *,
    holder: str,
    progress: Progress | None = None,
    images: ImageCache | None = None,
) -> SyncReport | None:
    """One sync under the lease; None if another process is syncing now."""
    now = datetime.now(UTC)
    if not await leases.acquire(db, LEASE, holder, now, LEASE_TTL):
        return None

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_TTL.total_seconds() / 3)
            await leases.acquire(db, LEASE, holder, datetime.now(UTC), LEASE_TTL)

    renewer = asyncio.create_task(renew())
    try:
        return await SyncRun(db, client, options, progress=progress, images=images).run()
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        await leases.release(db, LEASE, holder)


class SyncTask:
    name = "sync"

    def __init__(
        self,
        db: Database,
        client: RegistryClient,
        sync: SyncTaskSettings,
        registry: RegistrySettings,
        *,
        worker: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.client = client
        self.sync = sync
        self.registry = registry
        self.worker = worker
        self.interval = sync.interval
        self.clock = clock
        self.images = ImageCache()

    async def run_once(self) -> TaskRun:
        strategy = self.sync.strategy
        run_once = strategy in (SyncStrategy.ON_START, SyncStrategy.INITIAL)
        if strategy is SyncStrategy.INITIAL:
            async with self.db.read() as session:
                if await store.repository_count(session) > 0:
                    log.info("sync: the index is not empty; the initial strategy has nothing to do")
                    return TaskRun(finished=True, details={"skipped": "the index is not empty"})
        options = options_for(strategy, self.sync, self.registry)
        report = await run_sync(
            self.db, self.client, options, holder=self.worker, images=self.images
        )
        if report is None:
            log.info(
                "sync: another process is syncing; skipping this round", extra={"task": "sync"}
            )
            return TaskRun(details={"skipped": "another process holds the sync lease"})
        summary = report.summary
        log.info(
            "sync: %d repositories, %d tags, +%d ~%d -%d in %.1fs (%d requests); %s",
            summary.repositories,
            summary.tags,
            summary.added,
            summary.moved,
            summary.removed_tags,
            report.duration,
            report.requests,
            summary.deletions,
            extra={
                "task": "sync",
                "duration": round(report.duration, 3),
                "repositories": summary.repositories,
                "tags": summary.tags,
                "added": summary.added,
                "moved": summary.moved,
                "removed": summary.removed_tags,
                "requests": report.requests,
            },
        )
        return TaskRun(changed=True, finished=run_once, details=report_details(report))
