"""Each source's fetch state in ``vulndb_sources``, and the decisions about it (pure): which
sources there are, which are due, and what data each ecosystem has."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.background.retry import backoff
from portside.db.engine import Database
from portside.db.models import AdvisoryPackage, ScanTarget, VulndbSource
from portside.index.vocabulary import ScanTargetStatus
from portside.security.advisories.ecosystems import family, index_ecosystem
from portside.security.scanning.matching import osv_packages
from portside.security.scanning.records import os_of, packages_of
from portside.security.scanning.verdict import EcosystemData
from portside.settings import VulndbSettings

MAX_ERROR = 1000  # characters of an error kept


def default_sources(base_url: str, ecosystems: Iterable[str]) -> list[str]:
    """``{base_url}/{Family}/all.zip`` for each ecosystem's family (``Debian:12`` -> Debian),
    as osv.dev lays out its archives."""
    families = sorted({family(e) for e in ecosystems if e})
    return [f"{base_url.rstrip('/')}/{quote(name)}/all.zip" for name in families]


def configured_sources(settings: VulndbSettings, image_ecosystems: Iterable[str]) -> list[str]:
    if settings.sources is not None:
        return list(settings.sources)
    return default_sources(settings.base_url, image_ecosystems)


@dataclass(frozen=True)
class SourceView:
    """What the decisions need of a source's state."""

    url: str
    last_attempt: datetime | None
    last_success: datetime | None
    failures: int


def due(source: SourceView | None, now: datetime, settings: VulndbSettings) -> bool:
    """Whether a source should be fetched now: never tried, its interval passed since the last
    try, or (after failures) its back-off passed."""
    if source is None or source.last_attempt is None:
        return True
    if source.failures:
        wait = backoff(source.failures, settings.backoff_base, settings.backoff_max)
        return now >= source.last_attempt + min(wait, timedelta(seconds=settings.interval))
    return now >= source.last_attempt + timedelta(seconds=settings.interval)


def ecosystem_data(
    records: Mapping[str, int], sources: Sequence[VulndbSource]
) -> dict[str, EcosystemData]:
    """Per ecosystem: its advisories, and when a source holding it last updated (pure)."""
    updated: dict[str, datetime] = {}
    for source in sources:
        if source.last_success is None:
            continue
        for ecosystem in source.ecosystems or {}:
            if ecosystem not in updated or updated[ecosystem] < source.last_success:
                updated[ecosystem] = source.last_success
    return {
        ecosystem: EcosystemData(records.get(ecosystem, 0), updated.get(ecosystem))
        for ecosystem in sorted(set(records) | set(updated))
    }


async def load_all(session: AsyncSession) -> list[VulndbSource]:
    return list((await session.scalars(select(VulndbSource).order_by(VulndbSource.url))).all())


async def source_id(db: Database, url: str) -> tuple[int, VulndbSource]:
    """The source's row (created on first use), detached: its id and last state."""
    async with db.write() as session:
        row = await session.scalar(select(VulndbSource).where(VulndbSource.url == url))
        if row is None:
            row = VulndbSource(url=url, records=0, failures=0, ecosystems={})
            session.add(row)
            await session.flush()
        session.expunge(row)
    return row.id, row


async def record_failure(db: Database, sid: int, now: datetime, error: str) -> None:
    async with db.write() as session:
        row = await session.get(VulndbSource, sid)
        if row is None:
            return
        row.last_attempt = now
        row.failures = (row.failures or 0) + 1
        row.last_error = error[:MAX_ERROR]


async def record_success(
    db: Database,
    sid: int,
    now: datetime,
    *,
    etag: str | None,
    last_modified: str | None,
    records: int | None = None,
    ecosystems: Mapping[str, int] | None = None,
) -> None:
    """A fetch that worked (an archive imported, or a 304: the data is current)."""
    async with db.write() as session:
        row = await session.get(VulndbSource, sid)
        if row is None:
            return
        row.last_attempt = now
        row.last_success = now
        row.failures = 0
        row.last_error = None
        row.etag = etag[:1024] if etag else None
        row.last_modified = last_modified[:255] if last_modified else None
        if records is not None:
            row.records = records
        if ecosystems is not None:
            row.ecosystems = dict(sorted(ecosystems.items()))


async def image_ecosystems(session: AsyncSession) -> set[str]:
    """The OSV ecosystems of the packages in scanned images (index keys)."""
    found: set[str] = set()
    rows = await session.stream(
        select(ScanTarget.os, ScanTarget.packages).where(
            ScanTarget.status == ScanTargetStatus.DONE, ScanTarget.packages.is_not(None)
        )
    )
    async for os_record, packages in rows:
        found.update(
            index_ecosystem(p.ecosystem)
            for p in osv_packages(os_of(os_record), packages_of(packages or []))
        )
    return found


async def data_state(session: AsyncSession) -> dict[str, EcosystemData]:
    """Per ecosystem (index key): its advisories and when a source holding it last updated."""
    rows = await session.execute(
        select(
            AdvisoryPackage.ecosystem, func.count(func.distinct(AdvisoryPackage.advisory_id))
        ).group_by(AdvisoryPackage.ecosystem)
    )
    records = {str(e): int(n) for e, n in rows.all()}
    return ecosystem_data(records, await load_all(session))
