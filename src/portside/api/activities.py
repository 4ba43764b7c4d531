"""The activity timeline and the dashboard's summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from portside.api.deps import PagingDep, ReadSession, page_of
from portside.api.schemas import Page
from portside.index.names import check_repository
from portside.reads import history, overview
from portside.web.access import PrincipalDep, Reader
from portside.web.deps import CountsCacheDep

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
    estimated: bool = False  # repositories and tags are estimates ("about")


@router.get("/activities", response_model=Page[ActivityPublic])
async def list_activities(
    session: ReadSession,
    paging: PagingDep,
    principal: PrincipalDep,
    repository: str | None = None,
    kind: str | None = None,
) -> Page[ActivityPublic]:
    """What happened in the namespaces the caller may see, newest first; filter by
    repository or kind (e.g. ``tag.push``). A repository that is not a valid name is refused
    (422)."""
    if repository:
        check_repository(repository)
    found = await history.activities(
        session, paging, principal=principal, repository=repository, kind=kind
    )
    return page_of([ActivityPublic.model_validate(a) for a in found.rows], found, paging)


@router.get("/summary", response_model=Summary)
async def summary(session: ReadSession, cache: CountsCacheDep, principal: PrincipalDep) -> Summary:
    """Counts for a dashboard, over what the caller may see: repositories, tags, scanned
    digests (the tagged digests with a scan result), findings by severity over them;
    ``estimated``: the repositories and tags are the database's estimate (a large index) or,
    for a caller who sees part of the index, counted up to 10,000."""
    counts = await overview.counts(session, cache, principal=principal)
    return Summary(
        repositories=counts.repositories,
        tags=counts.tags,
        scanned_digests=counts.scanned,
        vulnerabilities=counts.findings,
        estimated=counts.estimated,
    )
