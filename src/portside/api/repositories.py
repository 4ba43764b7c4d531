"""Repositories and their tags, those the principal may see (another one is not found)."""

from __future__ import annotations

from fastapi import APIRouter

from portside.api.deps import PagingDep, ReadSession, RowId, page_of
from portside.api.errors import NotFound
from portside.api.schemas import Page, RepositoryPublic, TagPublic
from portside.api.tags import tag_public
from portside.reads import repositories as reads
from portside.reads.repositories import RepositoryRow
from portside.web.access import PrincipalDep, Reader

router = APIRouter(prefix="/api/v1", tags=["repositories"], dependencies=Reader)


def _public(row: RepositoryRow) -> RepositoryPublic:
    return RepositoryPublic(
        id=row.id,
        name=row.name,
        namespace=row.namespace,
        tag_count=row.tag_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get("/repositories", response_model=Page[RepositoryPublic])
async def list_repositories(
    session: ReadSession, paging: PagingDep, principal: PrincipalDep, q: str | None = None
) -> Page[RepositoryPublic]:
    """The repositories the caller may see, sorted by name; ``q`` keeps those whose name
    contains it."""
    found = await reads.repositories(session, paging, principal=principal, q=q or "")
    return page_of([_public(row) for row in found.rows], found, paging)


@router.get("/repositories/{repository_id}", response_model=RepositoryPublic)
async def get_repository(
    repository_id: RowId, session: ReadSession, principal: PrincipalDep
) -> RepositoryPublic:
    found = await reads.repository(session, repository_id, principal=principal)
    if found is None:
        raise NotFound(f"no repository with id {repository_id}")
    return _public(found)


@router.get("/repositories/{repository_id}/tags", response_model=Page[TagPublic])
async def list_tags(
    repository_id: RowId, session: ReadSession, paging: PagingDep, principal: PrincipalDep
) -> Page[TagPublic]:
    """The repository's tags sorted by name."""
    if await reads.repository(session, repository_id, principal=principal) is None:
        raise NotFound(f"no repository with id {repository_id}")
    found = await reads.tags(session, repository_id, paging, principal=principal)
    return page_of([tag_public(row.tag, row.counts) for row in found.rows], found, paging)
