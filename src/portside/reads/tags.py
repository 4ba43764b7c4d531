"""One tag with its repository and its digest's scan, and an SBOM's scan, as the principal
may see them (a tag in a repository it may not see is not found, nor named as sharing a
digest); the lookups a deletion and a rescan need (admins: unfiltered)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts.policy import Principal
from portside.db.models import Repository, ScanTarget, Tag
from portside.reads import visible

MAX_OTHERS = 20


@dataclass(frozen=True)
class TagDetail:
    tag: Tag
    repository: Repository
    target: ScanTarget | None
    others: list[tuple[int, str, str]] = field(default_factory=list)  # same digest elsewhere

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.target.counts or {}) if self.target and self.target.counts else {}


async def tag(
    session: AsyncSession, tag_id: int, *, principal: Principal, others: bool = False
) -> TagDetail | None:
    """The tag, its repository and its scan (None when the principal may not see it); with
    ``others``, up to :data:`MAX_OTHERS` tags it may see elsewhere on the same digest."""
    seen = visible.repositories(principal)
    found = (
        await session.execute(
            visible.only(
                select(Tag, Repository, ScanTarget)
                .join(Repository, Repository.id == Tag.repository_id)
                .outerjoin(ScanTarget, ScanTarget.digest == Tag.digest)
                .where(Tag.id == tag_id),
                seen,
            )
        )
    ).first()
    if found is None:
        return None
    tag_row, repo, target = found
    if not others:
        return TagDetail(tag_row, repo, target)
    rows = (
        await session.execute(
            visible.only(
                select(Tag.id, Repository.name, Tag.name)
                .join(Repository, Repository.id == Tag.repository_id)
                .where(Tag.digest == tag_row.digest, Tag.id != tag_row.id),
                seen,
            )
            .order_by(Repository.name, Tag.name)
            .limit(MAX_OTHERS)
        )
    ).all()
    return TagDetail(tag_row, repo, target, [(i, r, t) for i, r, t in rows])


@dataclass(frozen=True)
class ScanOf:
    target: ScanTarget
    repository: str  # a repository the principal may see with a tag on the digest


async def scan_of(session: AsyncSession, digest: str, *, principal: Principal) -> ScanOf | None:
    """The digest's scan, named by a repository the principal may see that has a tag on it
    (the scanner's own repository for who reads everything); None when it may see none."""
    target: ScanTarget | None = await session.scalar(
        select(ScanTarget).where(ScanTarget.digest == digest)
    )
    if target is None:
        return None
    seen = visible.repositories(principal)
    if seen is None:
        return ScanOf(target, target.repository)
    name: str | None = await session.scalar(
        select(Repository.name)
        .join(Tag, Tag.repository_id == Repository.id)
        .where(Tag.digest == digest, seen)
        .order_by(Repository.name)
        .limit(1)
    )
    return None if name is None else ScanOf(target, name)


async def tag_names(session: AsyncSession, tag_id: int) -> tuple[str, str] | None:
    """(repository, tag) of a tag id."""
    row = (
        await session.execute(
            select(Repository.name, Tag.name)
            .join(Tag, Tag.repository_id == Repository.id)
            .where(Tag.id == tag_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def repository_name(session: AsyncSession, repository_id: int) -> str | None:
    name: str | None = await session.scalar(
        select(Repository.name).where(Repository.id == repository_id)
    )
    return name


async def tag_digest(session: AsyncSession, tag_id: int) -> str | None:
    digest: str | None = await session.scalar(select(Tag.digest).where(Tag.id == tag_id))
    return digest
