"""The activity timeline and the dashboard's summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from portside.api.auth import Reader
from portside.api.deps import PagingDep, ReadSession
from portside.api.schemas import Page
from portside.db.models import Activity, Repository, ScanTarget, Tag
from portside.index.names import check_repository
from portside.security.severity import ORDER

router = APIRouter(prefix="/api/v1", tags=["activities"], dependencies=Reader)


class ActivityPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    actor: str | None
    repository: str | None
    tag: str | None
    digest: str | None
    details: dict[str, Any]


class Summary(BaseModel):
    repositories: int
    tags: int
    scanned_digests: int
    vulnerabilities: dict[str, int]  # by severity, over the digests that are tagged


@router.get("/activities", response_model=Page[ActivityPublic])
async def list_activities(
    session: ReadSession,
    paging: PagingDep,
    repository: str | None = None,
    kind: str | None = None,
) -> Page[ActivityPublic]:
    """What happened, newest first; filter by repository or kind (e.g. ``tag.push``). A
    repository that is not a valid name is refused (422)."""
    query = select(Activity)
    count = select(func.count()).select_from(Activity)
    if repository:
        check_repository(repository)
        query, count = (
            query.where(Activity.repository == repository),
            count.where(Activity.repository == repository),
        )
    if kind:
        query, count = query.where(Activity.kind == kind), count.where(Activity.kind == kind)
    rows = await session.scalars(
        query.order_by(Activity.id.desc()).offset(paging.offset).limit(paging.per_page)
    )
    return Page(
        items=[ActivityPublic.model_validate(a) for a in rows.all()],
        total=int(await session.scalar(count) or 0),
        page=paging.page,
        per_page=paging.per_page,
    )


@router.get("/summary", response_model=Summary)
async def summary(session: ReadSession) -> Summary:
    """Counts for a dashboard: repositories, tags, scanned digests, findings by severity."""
    tagged = select(Tag.digest).distinct().subquery()
    counts = await session.scalars(
        select(ScanTarget.counts).where(
            ScanTarget.digest.in_(select(tagged.c.digest)), ScanTarget.counts.is_not(None)
        )
    )
    totals = dict.fromkeys(ORDER, 0)
    scanned = 0
    for found in counts.all():
        scanned += 1
        for level, n in (found or {}).items():
            totals[level] = totals.get(level, 0) + int(n)
    return Summary(
        repositories=int(await session.scalar(select(func.count()).select_from(Repository)) or 0),
        tags=int(await session.scalar(select(func.count()).select_from(Tag)) or 0),
        scanned_digests=scanned,
        vulnerabilities=totals,
    )
