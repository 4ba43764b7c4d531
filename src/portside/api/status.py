"""``GET /api/v1/status`` (each background task, the queues), ``GET /metrics`` (global
numbers: for who reads everything) and ``GET /healthz`` (anyone)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from portside import __version__
from portside.api.deps import ReadSession, ServicesDep
from portside.api.schemas import Status, TaskStatus, VulndbStatus
from portside.events import queue
from portside.reads import overview, vulndata
from portside.redact import redact_url
from portside.security.scanning import queue as scan_queue
from portside.web.access import Everything

log = logging.getLogger(__name__)
router = APIRouter(tags=["status"])


@router.get("/api/v1/status", response_model=Status, dependencies=Everything)
async def status(services: ServicesDep, session: ReadSession) -> Status:
    settings = services.settings
    found = await overview.health(session, settings)
    tasks = [
        TaskStatus(
            name=task.name,
            enabled=task.enabled,
            worker=task.worker,
            last_run_at=task.last_run_at,
            last_duration=task.last_duration,
            last_error=task.last_error,
            last_error_at=task.last_error_at,
            next_run_at=task.next_run_at,
            runs=task.runs,
            details=task.details or {},
            queue_depth=task.queue_depth,
        )
        for task in found.tasks
    ]
    ingest = services.ingestor.stats if services.ingestor else None
    data = await vulndata.vulndata(session, settings, datetime.now(UTC))
    return Status(
        vulndb=VulndbStatus(
            stale_after_days=data.stale_after_days,
            ecosystems=[asdict(e) for e in data.ecosystems],
            sources=[asdict(s) for s in data.sources],
        ),
        version=__version__,
        database=services.db.dialect,
        registry=redact_url(settings.registry.url) if settings.registry.url else None,
        tasks=tasks,
        events=found.events,
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
        await overview.ping(session)
    except Exception as exc:  # its text may carry SQL or the database's address: logged only
        log.warning("healthz: the database does not answer: %s", exc)
        return JSONResponse(
            {"status": "unavailable", "error": "the database does not answer"}, status_code=503
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics", dependencies=Everything, response_class=Response)
async def metrics(services: ServicesDep, session: ReadSession) -> Response:
    """Prometheus metrics of this process, and the shared queues' depths."""
    services.metrics.set_queues(await queue.counts(session), await scan_queue.depth(session))
    data = await vulndata.vulndata(session, services.settings, datetime.now(UTC))
    services.metrics.set_vulndata(
        [(e.ecosystem, e.records, e.last_success, e.age_seconds) for e in data.ecosystems],
        [(s.url, s.failures) for s in data.sources],
    )
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
