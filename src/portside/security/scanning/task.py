"""The security-scanning background task.

Each run queues the tagged digests that have no scan yet, claims a few (new pushes first),
analyzes each image (layers streamed from the registry, never written to disk), matches its
packages against the stored advisories and stores both. A registry that is down or slow is
retried with backoff; a hostile or unreadable image fails with its error, visible per tag.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from portside.background.retry import backoff
from portside.background.runtime import TaskRun
from portside.db.engine import Database
from portside.db.models import ScanTarget
from portside.errors import (
    InvalidName,
    RegistryError,
    RegistryNotFound,
    RegistryProtocolError,
)
from portside.registry.client import RegistryClient
from portside.security.analysis.limits import LayerRejected
from portside.security.scanning import queue
from portside.security.scanning.analyze import Analyzer, limits_of
from portside.security.scanning.backends import BackendError, BackendUnavailable, merge_findings
from portside.security.scanning.backends.factory import external_backends
from portside.security.scanning.layercache import LayerCacheStore
from portside.security.scanning.matching import match
from portside.security.scanning.records import os_record, package_record
from portside.security.severity import counts as severity_counts
from portside.settings import ScannerBackend, ScanTaskSettings

log = logging.getLogger(__name__)


class ScanTask:
    name = "scan"

    def __init__(
        self,
        db: Database,
        client: RegistryClient,
        settings: ScanTaskSettings,
        *,
        worker: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.settings = settings
        self.worker = worker
        self.interval = settings.interval
        self.clock = clock
        self.analyzer = Analyzer(client, LayerCacheStore(db), limits_of(settings))
        self.builtin = ScannerBackend.BUILTIN in settings.backends
        self.external = external_backends(settings, client)
        self.totals = {"scanned": 0, "retried": 0, "failed": 0}

    async def run_once(self) -> TaskRun:
        now = self.clock()
        before = dict(self.totals)
        async with self.db.read() as session:
            idle = not await queue.has_work(session, now)
        targets: list[ScanTarget] = []
        if not idle:
            async with self.db.write() as session:
                await queue.enqueue_new(session, now)
                targets = await queue.claim(
                    session,
                    worker=self.worker,
                    now=now,
                    limit=self.settings.batch_size,
                    lease=timedelta(seconds=self.settings.lease),
                    max_attempts=self.settings.max_attempts,
                )
        for target in targets:
            await self.scan(target)
        async with self.db.read() as session:
            depth = await queue.depth(session)
        return TaskRun(
            more=bool(targets),
            changed=bool(targets),
            details={
                "queue": depth,
                "totals": dict(self.totals),
                "last_run": {k: self.totals[k] - before[k] for k in self.totals},
            },
        )

    async def scan(self, target: ScanTarget) -> None:
        started = time.monotonic()
        try:
            analysis = (
                await self.analyzer.analyze(target.repository, target.digest)
                if self.builtin
                else None
            )
            external = [
                (backend.name, await backend.scan(target.repository, target.digest))
                for backend in self.external
            ]
        except (RegistryError, BackendUnavailable) as exc:
            retry = not isinstance(exc, RegistryNotFound | RegistryProtocolError | InvalidName)
            await self._failed(target, exc, retry=retry)
            return
        except (LayerRejected, BackendError) as exc:
            await self._failed(target, exc, retry=False)
            return
        except Exception as exc:  # a bug or an image nobody foresaw: this scan fails, not the task
            log.exception(
                "scanning %s@%s failed", target.repository, target.digest, extra=_fields(target)
            )
            await self._failed(target, exc, retry=False)
            return
        packages = [package_record(p) for p in analysis.packages] if analysis else []
        os = os_record(analysis.os) if analysis else None
        builtin: list[dict[str, Any]] = []
        if analysis:  # matched in a read session: the write below only stores the result
            async with self.db.read() as session:
                builtin, _ = await match(session, analysis.os, analysis.packages)
        findings = merge_findings((ScannerBackend.BUILTIN.value, builtin), *external)
        counts = severity_counts(f["severity"] for f in findings)
        async with self.db.write() as session:
            await queue.complete(
                session,
                target.id,
                worker=self.worker,
                now=self.clock(),
                os=os,
                packages=packages,
                findings=findings,
                counts=counts,
            )
        self.totals["scanned"] += 1
        log.info(
            "scanned %s@%s: %d packages, %s",
            target.repository,
            target.digest,
            len(packages),
            counts or "no findings",
            extra={
                **_fields(target),
                "packages": len(packages),
                "counts": counts,
                "duration": round(time.monotonic() - started, 3),
            },
        )

    async def _failed(self, target: ScanTarget, exc: Exception, *, retry: bool) -> None:
        message = f"{type(exc).__name__}: {exc}"
        delay = (
            backoff(target.attempts, self.settings.backoff_base, self.settings.backoff_max)
            if retry and target.attempts < self.settings.max_attempts
            else None
        )
        log.warning(
            "scan of %s@%s: %s (%s)",
            target.repository,
            target.digest,
            message,
            f"retry in {delay.total_seconds():.0f}s" if delay else "failed",
            extra={
                **_fields(target),
                "error": message,
                "attempts": target.attempts,
                "retry_in": delay.total_seconds() if delay else None,
            },
        )
        async with self.db.write() as session:
            await queue.retry_or_fail(
                session, target, worker=self.worker, now=self.clock(), error=message, delay=delay
            )
        self.totals["retried" if delay else "failed"] += 1


def _fields(target: ScanTarget) -> dict[str, object]:
    """The structured log fields of a scan (what operators search the log for)."""
    return {"task": "scan", "repository": target.repository, "digest": target.digest}
