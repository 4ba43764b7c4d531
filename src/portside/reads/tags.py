"""One tag with its repository and its digest's scan; the lookups a deletion and an SBOM
need."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.models import Repository, ScanTarget, Tag

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


async def tag(session: AsyncSession, tag_id: int, *, others: bool = False) -> TagDetail | None:
    """The tag, its repository and its scan; with ``others``, up to :data:`MAX_OTHERS` tags
    elsewhere on the same digest."""
    found = (
        await session.execute(
            select(Tag, Repository, ScanTarget)
            .join(Repository, Repository.id == Tag.repository_id)
            .outerjoin(ScanTarget, ScanTarget.digest == Tag.digest)
            .where(Tag.id == tag_id)
        )
    ).first()
    if found is None:
        return None
    tag_row, repo, target = found
    if not others:
        return TagDetail(tag_row, repo, target)
    rows = (
        await session.execute(
            select(Tag.id, Repository.name, Tag.name)
            .join(Repository, Repository.id == Tag.repository_id)
            .where(Tag.digest == tag_row.digest, Tag.id != tag_row.id)
            .order_by(Repository.name, Tag.name)
            .limit(MAX_OTHERS)
        )
    ).all()
    return TagDetail(tag_row, repo, target, [(i, r, t) for i, r, t in rows])


async def scan_of(session: AsyncSession, digest: str) -> ScanTarget | None:
    found: ScanTarget | None = await session.scalar(
        select(ScanTarget).where(ScanTarget.digest == digest)
    )
    return found


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
