"""Repositories and their tags."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import Select, func, select

from portside.api.auth import Reader
from portside.api.deps import PagingDep, ReadSession, RowId
from portside.api.errors import NotFound
from portside.api.schemas import Page, RepositoryPublic, TagPublic
from portside.api.tags import tag_public
from portside.db.models import Namespace, Repository, ScanTarget, Tag

router = APIRouter(prefix="/api/v1", tags=["repositories"], dependencies=Reader)


def _repository_query() -> Select[Repository, str, int]:
    tag_count = (
        select(func.count(Tag.id)).where(Tag.repository_id == Repository.id).scalar_subquery()
    )
    return select(Repository, Namespace.name, tag_count).join(
        Namespace, Namespace.id == Repository.namespace_id
    )


def _public(repo: Repository, namespace: str, tag_count: int) -> RepositoryPublic:
    return RepositoryPublic(
        id=repo.id,
        name=repo.name,
        namespace=namespace,
        tag_count=tag_count,
        created_at=repo.created_at,
        updated_at=repo.updated_at,
    )


@router.get("/repositories", response_model=Page[RepositoryPublic])
async def list_repositories(
    session: ReadSession, paging: PagingDep, q: str | None = None
) -> Page[RepositoryPublic]:
    """Repositories sorted by name; ``q`` keeps those whose name contains it."""
    query = _repository_query()
    total_query = select(func.count()).select_from(Repository)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(Repository.name.like(pattern, escape="\\"))
        total_query = total_query.where(Repository.name.like(pattern, escape="\\"))
    rows = await session.execute(
        query.order_by(Repository.name, Repository.id).offset(paging.offset).limit(paging.per_page)
    )
    total = await session.scalar(total_query)
    return Page(
        items=[_public(*row) for row in rows.all()],
        total=int(total or 0),
        page=paging.page,
        per_page=paging.per_page,
    )


@router.get("/repositories/{repository_id}", response_model=RepositoryPublic)
async def get_repository(repository_id: RowId, session: ReadSession) -> RepositoryPublic:
    row = (await session.execute(_repository_query().where(Repository.id == repository_id))).first()
    if row is None:
        raise NotFound(f"no repository with id {repository_id}")
    return _public(*row)


@router.get("/repositories/{repository_id}/tags", response_model=Page[TagPublic])
async def list_tags(
    repository_id: RowId, session: ReadSession, paging: PagingDep
) -> Page[TagPublic]:
    """The repository's tags sorted by name."""
    if await session.get(Repository, repository_id) is None:
        raise NotFound(f"no repository with id {repository_id}")
    rows = await session.execute(
        select(Tag, ScanTarget)
        .outerjoin(ScanTarget, ScanTarget.digest == Tag.digest)
        .where(Tag.repository_id == repository_id)
        .order_by(Tag.name, Tag.id)
        .offset(paging.offset)
        .limit(paging.per_page)
    )
    total = await session.scalar(
        select(func.count()).select_from(Tag).where(Tag.repository_id == repository_id)
    )
    return Page(
        items=[tag_public(tag, target) for tag, target in rows.all()],
        total=int(total or 0),
        page=paging.page,
        per_page=paging.per_page,
    )
