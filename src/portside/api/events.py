"""The registry events Portside received, by status."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter

from portside.api.deps import PagingDep, ReadSession
from portside.api.schemas import EventPublic, Page
from portside.events import queue

router = APIRouter(prefix="/api/v1", tags=["events"])


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
    rows, total = await queue.page(
        session,
        status=status.value if status else None,
        offset=paging.offset,
        limit=paging.per_page,
    )
    return Page(
        items=[EventPublic.model_validate(row) for row in rows],
        total=total,
        page=paging.page,
        per_page=paging.per_page,
    )
