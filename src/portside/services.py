"""What one Portside process runs, opened and closed together, in order.

``portside serve`` opens the database and the event ingestor; ``portside background`` the
database, the registry client and the task loops; ``portside run`` all of them. Nothing here
happens at import time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from portside.background.runtime import Runtime, Task, worker_id
from portside.db import migrate
from portside.db.engine import Database
from portside.events.ingest import EventIngestor
from portside.events.processor import EventProcessor
from portside.events.task import EventsTask
from portside.gc.task import GcTask
from portside.metrics import Metrics
from portside.outgoing.task import WebhooksTask
from portside.registry.client import RegistryClient
from portside.security.scanning.task import ScanTask
from portside.security.sources.task import VulndbTask
from portside.settings import Settings
from portside.sync.task import SyncTask
from portside.tokenserver.keys import TokenKeys
from portside.tokenserver.own import SelfSigned

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    worker: str
    registry: RegistryClient | None = None
    token_keys: TokenKeys | None = None  # the token server's signing key, read once
    ingestor: EventIngestor | None = None
    runtime: Runtime | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    metrics: Metrics = field(default_factory=Metrics)
    scan_slots: asyncio.Semaphore = field(init=False)  # on-request scans (POST /api/v1/scans)

    def __post_init__(self) -> None:
        self.scan_slots = asyncio.Semaphore(self.settings.api.scan_slots)

    @property
    def webhook_tokens(self) -> list[str]:
        return [token.get_secret_value() for token in self.settings.notifications.tokens]


def build_tasks(services: Services) -> list[Task]:
    settings = services.settings.background
    tasks: list[Task] = []
    if settings.events.enabled and services.registry is not None:
        processor = EventProcessor(
            services.db, services.registry, settings.events, worker=services.worker
        )
        tasks.append(EventsTask(services.db, processor, settings.events))
    if settings.sync.enabled and services.registry is not None:
        tasks.append(
            SyncTask(
                services.db,
                services.registry,
                settings.sync,
                services.settings.registry,
                worker=services.worker,
            )
        )
    if settings.outgoing.enabled:
        tasks.append(
            WebhooksTask(services.db, settings.outgoing, services.settings.outgoing_webhooks)
        )
    if settings.gc.enabled and services.registry is not None:
        tasks.append(GcTask(services.db, services.registry, settings.gc))
    if settings.scan.enabled and services.registry is not None:
        tasks.append(
            ScanTask(services.db, services.registry, settings.scan, worker=services.worker)
        )
    if services.settings.vulndb.enabled:
        tasks.append(
            VulndbTask(
                services.db,
                services.settings.vulndb,
                services.settings.data_dir / "vulndb",
                worker=services.worker,
            )
        )
    return tasks


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    ingest: bool,
    background: bool,
    one_shot: bool = False,
) -> AsyncIterator[Services]:
    """Open what this process needs; the background tasks run until the context exits."""
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(Database(settings.database_url))
        await migrate.wait_until_ready(db, settings.background.schema_wait)
        services = Services(settings=settings, db=db, worker=worker_id())
        services.token_keys = TokenKeys(db, settings.auth.token)
        if settings.registry.url:
            services.registry = await stack.enter_async_context(
                RegistryClient(
                    settings.registry,
                    on_request=services.metrics.registry_request,
                    token_source=SelfSigned(services.token_keys, settings),
                )
            )
        if background:
            services.runtime = Runtime(
                db,
                build_tasks(services),
                worker=services.worker,
                on_run=services.metrics.task_run,
            )
        if ingest:
            runtime = services.runtime
            services.ingestor = await stack.enter_async_context(
                EventIngestor(db, on_stored=(lambda: runtime.wake("events")) if runtime else None)
            )
            services.metrics.watch_ingest(services.ingestor.stats)
        runner: asyncio.Task[None] | None = None
        if services.runtime is not None and not one_shot:
            runner = asyncio.create_task(services.runtime.run(), name="portside-background")
        try:
            yield services
        finally:
            if runner is not None and services.runtime is not None:
                services.runtime.stop.set()
                await runner
