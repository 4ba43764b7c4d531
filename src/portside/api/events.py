"""The registry events Portside received, by status (for who reads everything: admins, the
admin tokens, trusted anonymous readers)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from fastapi import APIRouter, status

from portside.api.deps import PagingDep, ReadSession, ServicesDep, page_of
from portside.api.schemas import Accepted, EventPublic, Page, RetryRequest
from portside.events import queue
from portside.reads import history
from portside.web.access import Admin, Everything

router = APIRouter(prefix="/api/v1", tags=["events"], dependencies=Everything)


class EventStatus(StrEnum):
    fresh = "fresh"
    progress = "progress"
    done = "done"
    failed = "failed"


@router.get("/events", response_model=Page[EventPublic])
async def list_events(
    session: ReadSession, paging: PagingDep, status: EventStatus | None = None
) -> Page[EventPublic]:
    """Events, newest first; ``status=failed`` shows the ones that need attention."""
    found = await history.events(session, paging, status=status.value if status else None)
    return page_of([EventPublic.model_validate(row) for row in found.page.rows], found.page, paging)


@router.post("/events/retry", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def retry_events(body: RetryRequest, services: ServicesDep, _: Admin) -> Accepted:
    """Queue failed events again: these ids, or all of them (needs an admin token)."""
    async with services.db.write() as session:
        queued = await queue.replay(session, body.ids, datetime.now(UTC))
    return Accepted(queued=queued)
