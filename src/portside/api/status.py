"""``GET /api/v1/status`` (each background task, the queues) and ``GET /healthz``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from portside import __version__
from portside.api.auth import Reader
from portside.api.deps import ReadSession, ServicesDep
from portside.api.schemas import Status, TaskStatus
from portside.background import state
from portside.events import queue
from portside.index.vocabulary import ScanTargetStatus
from portside.redact import redact_text, redact_url
from portside.security.scanning import queue as scan_queue

log = logging.getLogger(__name__)
router = APIRouter(tags=["status"])

TASKS = ("events", "sync", "scan", "gc", "webhooks")


def redacted(value: Any) -> Any:
    """A task's details or error with every URL's credentials masked (a registry error names
    its URL)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


@router.get("/api/v1/status", response_model=Status, dependencies=Reader)
async def status(services: ServicesDep, session: ReadSession) -> Status:
    settings = services.settings
    states = await state.load_all(session)
    counts = await queue.counts(session)
    scans = await scan_queue.depth(session)
    enabled = {
        "events": settings.background.events.enabled,
        "sync": settings.background.sync.enabled,
        "scan": settings.background.scan.enabled,
        "gc": settings.background.gc.enabled,
        "webhooks": settings.background.outgoing.enabled,
    }
    tasks = []
    for name in TASKS:
        found = states.get(name)
        item = TaskStatus(name=name, enabled=enabled[name])
        if found is not None:
            item = TaskStatus(
                name=name,
                enabled=enabled[name],
                worker=found.worker,
                last_run_at=found.last_started_at,
                last_duration=found.last_duration,
                last_error=redacted(found.last_error),
                last_error_at=found.last_error_at,
                next_run_at=found.next_run_at,
                runs=found.runs,
                details=redacted(found.details or {}),
            )
        if name == "events":
            item.queue_depth = counts["fresh"] + counts["progress"]
        if name == "scan":
            item.queue_depth = scans[ScanTargetStatus.PENDING] + scans[ScanTargetStatus.PROGRESS]
        tasks.append(item)
    ingest = services.ingestor.stats if services.ingestor else None
    return Status(
        version=__version__,
        database=services.db.dialect,
        registry=redact_url(settings.registry.url) if settings.registry.url else None,
        tasks=tasks,
        events=counts,
        webhook={
            "received": ingest.received if ingest else 0,
            "stored": ingest.stored if ingest else 0,
            "duplicates": ingest.duplicates if ingest else 0,
            "dropped": dict(ingest.dropped) if ingest else {},
            "refused": dict(ingest.refused) if ingest else {},
            "clamped": ingest.clamped if ingest else 0,
        },
    )


@router.get("/healthz")
async def healthz(session: ReadSession) -> JSONResponse:
    """200 when the database answers; 503 otherwise."""
    try:
        await session.execute(text("SELECT 1"))
    except Exception as exc:  # its text may carry SQL or the database's address: logged only
        log.warning("healthz: the database does not answer: %s", exc)
        return JSONResponse(
            {"status": "unavailable", "error": "the database does not answer"}, status_code=503
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics", dependencies=Reader, response_class=Response)
async def metrics(services: ServicesDep, session: ReadSession) -> Response:
    """Prometheus metrics of this process, and the shared queues' depths."""
    services.metrics.set_queues(await queue.counts(session), await scan_queue.depth(session))
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
