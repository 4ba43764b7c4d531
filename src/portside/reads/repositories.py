"""The repository list (by name, ``q`` a "name contains" filter) and one repository's tags
(by name), paged by key on the indexes ``(name, id)`` and ``(repository_id, name)``; each
only what the principal may see (:mod:`.visible`): one it may not see is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts.policy import Principal
from portside.db.models import Namespace, Repository, ScanTarget, Tag
from portside.reads import visible
from portside.reads.counting import bounded_count, like_pattern, table_count
from portside.reads.paging import Slice, Window, finish, keyset


@dataclass(frozen=True)
class RepositoryRow:
    id: int
    name: str
    namespace: str
    tag_count: int
    created_at: datetime
    updated_at: datetime


async def repositories(
    session: AsyncSession, window: Window, *, principal: Principal, q: str = ""
) -> Slice[RepositoryRow]:
    """One page of the repositories the principal may see, by name: the page's rows first
    (by key), then their namespaces and tag counts, then the total (estimated on a large
    table, bounded when filtered, by ``q`` or by what the principal may see)."""
    seen = visible.repositories(principal)
    inner = select(
        Repository.id,
        Repository.name,
        Repository.namespace_id,
        Repository.created_at,
        Repository.updated_at,
    )
    matching = select(Repository.id)
    if seen is not None:
        inner, matching = inner.where(seen), matching.where(seen)
    if q:
        inner = inner.where(Repository.name.like(like_pattern(q), escape="\\"))
        matching = matching.where(Repository.name.like(like_pattern(q), escape="\\"))
    limited, cursor = keyset(inner, [Repository.name, Repository.id], window)
    page = limited.subquery()
    tag_count = select(func.count(Tag.id)).where(Tag.repository_id == page.c.id).scalar_subquery()
    found = (
        await session.execute(
            select(page, Namespace.name.label("namespace"), tag_count.label("tag_count")).join(
                Namespace, Namespace.id == page.c.namespace_id
            )
        )
    ).all()
    rows = sorted(
        (
            RepositoryRow(
                id=row.id,
                name=row.name,
                namespace=row.namespace,
                tag_count=int(row.tag_count or 0),
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in found
        ),
        key=lambda r: (r.name, r.id),
        reverse=cursor is not None and cursor.backward,
    )
    done = finish(rows, lambda r: (r.name, r.id), window, cursor)
    if q or seen is not None:
        total, estimated = await bounded_count(session, matching)
    else:
        total, estimated = await table_count(session, Repository)
    return Slice(done.rows, done.next, done.previous, total, estimated, done.page, done.first)


async def repository(
    session: AsyncSession, repository_id: int, *, principal: Principal
) -> RepositoryRow | None:
    """The repository, or None when there is none the principal may see by that id."""
    tag_count = (
        select(func.count(Tag.id)).where(Tag.repository_id == Repository.id).scalar_subquery()
    )
    row = (
        await session.execute(
            select(Repository, Namespace.name, tag_count)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(Repository.id == repository_id)
            .where(*_seen(principal))
        )
    ).first()
    if row is None:
        return None
    repo, namespace, count = row
    return RepositoryRow(
        repo.id, repo.name, namespace, int(count or 0), repo.created_at, repo.updated_at
    )


def _seen(principal: Principal) -> list[ColumnElement[bool]]:
    condition = visible.repositories(principal)
    return [] if condition is None else [condition]


@dataclass(frozen=True)
class TagRow:
    tag: Tag
    target: ScanTarget | None

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.target.counts or {}) if self.target and self.target.counts else {}


async def tags(
    session: AsyncSession, repository_id: int, window: Window, *, principal: Principal
) -> Slice[TagRow]:
    """One page of a repository's tags by name, each with its digest's scan (none when the
    principal may not see the repository)."""
    ids = visible.repository_ids(principal)
    seen = [] if ids is None else [Tag.repository_id.in_(ids)]
    limited, cursor = keyset(
        select(Tag, ScanTarget)
        .outerjoin(ScanTarget, ScanTarget.digest == Tag.digest)
        .where(Tag.repository_id == repository_id, *seen),
        [Tag.name, Tag.id],
        window,
    )
    rows = [TagRow(tag, target) for tag, target in (await session.execute(limited)).all()]
    done = finish(rows, lambda r: (r.tag.name, r.tag.id), window, cursor)
    total = await session.scalar(
        select(func.count()).select_from(Tag).where(Tag.repository_id == repository_id, *seen)
    )
    return Slice(done.rows, done.next, done.previous, int(total or 0), False, done.page, done.first)
