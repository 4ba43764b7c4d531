"""Vulnerability data in the database: importing OSV records, and the matcher's index.

Records are stored as imported (``advisories.data``) with the packages they affect
(``advisory_packages``, keyed as the matcher looks them up), so a match loads only the
advisories of the packages at hand, and a re-match after an import needs no download.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.engine import Database
from portside.db.models import Advisory as AdvisoryRow
from portside.db.models import AdvisoryPackage, VulndbImport
from portside.vulndb.ecosystems import index_ecosystem, normalize_name
from portside.vulndb.load import LoadReport, read_records
from portside.vulndb.match import AdvisoryIndex, build_index
from portside.vulndb.osv import Advisory, parse_advisory

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class ImportResult:
    records: int = 0
    changed: int = 0
    problems: list[str] = field(default_factory=list)
    changed_keys: set[tuple[str, str]] = field(default_factory=set)


def keys_of(advisory: Advisory) -> set[tuple[str, str]]:
    return {
        (index_ecosystem(a.ecosystem), normalize_name(a.ecosystem, a.name))
        for a in advisory.affected
    }


async def _store_batch(
    session: AsyncSession,
    batch: list[tuple[dict[str, Any], Advisory]],
    now: datetime,
    result: ImportResult,
) -> None:
    ids = [advisory.id for _, advisory in batch]
    existing = dict(
        (
            await session.execute(
                select(AdvisoryRow.id, AdvisoryRow.modified).where(AdvisoryRow.id.in_(ids))
            )
        ).all()
    )
    changed = [
        (raw, advisory)
        for raw, advisory in batch
        if advisory.id not in existing
        or existing[advisory.id] != advisory.modified
        or advisory.modified is None
    ]
    if not changed:
        return
    changed_ids = [advisory.id for _, advisory in changed]
    # Keys of the old versions too: a package an advisory no longer names must be re-matched.
    old_keys = await session.execute(
        select(AdvisoryPackage.ecosystem, AdvisoryPackage.name).where(
            AdvisoryPackage.advisory_id.in_(changed_ids)
        )
    )
    result.changed_keys.update((e, n) for e, n in old_keys.all())
    await session.execute(
        delete(AdvisoryPackage).where(AdvisoryPackage.advisory_id.in_(changed_ids))
    )
    await session.execute(delete(AdvisoryRow).where(AdvisoryRow.id.in_(changed_ids)))
    session.add_all(
        AdvisoryRow(
            id=advisory.id,
            modified=advisory.modified,
            withdrawn=advisory.is_withdrawn,
            severity=str(advisory.severity),
            summary=advisory.summary or None,
            data=raw,
            imported_at=now,
        )
        for raw, advisory in changed
    )
    await session.flush()
    rows: list[dict[str, str]] = []
    for _, advisory in changed:
        keys = keys_of(advisory)
        result.changed_keys.update(keys)
        rows.extend(
            {"advisory_id": advisory.id, "ecosystem": e, "name": n} for e, n in sorted(keys)
        )
    if rows:
        await session.execute(insert(AdvisoryPackage), rows)
    result.changed += len(changed)


async def import_path(db: Database, path: Path, now: datetime) -> ImportResult:
    """Import a folder of OSV JSON files or an osv.dev ``all.zip``; bad records are reported,
    the rest imported."""
    report = LoadReport()
    result = ImportResult()
    batch: list[tuple[dict[str, Any], Advisory]] = []
    for raw, advisory in read_records(path, report):
        result.records += 1
        batch.append((raw, advisory))
        if len(batch) >= BATCH:
            async with db.write() as session:
                await _store_batch(session, batch, now, result)
            batch = []
    if batch:
        async with db.write() as session:
            await _store_batch(session, batch, now, result)
    result.problems = [f"{p.source}: {p.reason}" for p in report.problems]
    async with db.write() as session:
        session.add(
            VulndbImport(
                at=now,
                source=str(path),
                records=result.records,
                changed=result.changed,
                errors=result.problems[:100],
            )
        )
    log.info(
        "vulndb: imported %d records from %s (%d new or changed, %d refused)",
        result.records,
        path,
        result.changed,
        len(result.problems),
    )
    return result


Details = dict[str, tuple[str | None, list[str]]]  # advisory id -> (summary, links)


def _details(advisory: Advisory) -> tuple[str | None, list[str]]:
    return advisory.summary or None, list(advisory.references[:10])


async def load_index(session: AsyncSession, keys: Iterable[tuple[str, str]]) -> AdvisoryIndex:
    """The matcher's index for these (ecosystem, name) keys only."""
    return (await load_index_and_details(session, keys))[0]


async def load_index_and_details(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> tuple[AdvisoryIndex, Details]:
    """The matcher's index for these (ecosystem, name) keys, and the summary and links of its
    advisories, each record decoded once."""
    wanted = set(keys)
    ids: set[str] = set()
    by_ecosystem: dict[str, set[str]] = {}
    for ecosystem, name in wanted:
        by_ecosystem.setdefault(ecosystem, set()).add(name)
    for ecosystem, names in by_ecosystem.items():
        names_list = sorted(names)
        for start in range(0, len(names_list), 500):
            rows = await session.scalars(
                select(AdvisoryPackage.advisory_id).where(
                    AdvisoryPackage.ecosystem == ecosystem,
                    AdvisoryPackage.name.in_(names_list[start : start + 500]),
                )
            )
            ids.update(rows.all())
    advisories: list[Advisory] = []
    id_list = sorted(ids)
    for start in range(0, len(id_list), 500):
        rows = await session.scalars(
            select(AdvisoryRow.data).where(AdvisoryRow.id.in_(id_list[start : start + 500]))
        )
        advisories.extend(parse_advisory(raw).advisory for raw in rows.all())
    return build_index(advisories), {a.id: _details(a) for a in advisories}


@dataclass
class VulndbStatus:
    advisories: int
    withdrawn: int
    by_ecosystem: dict[str, int]
    newest_modified: datetime | None
    last_import: datetime | None
    last_source: str | None


async def status(session: AsyncSession) -> VulndbStatus:
    total = await session.scalar(select(func.count()).select_from(AdvisoryRow)) or 0
    withdrawn = (
        await session.scalar(
            select(func.count()).select_from(AdvisoryRow).where(AdvisoryRow.withdrawn.is_(True))
        )
        or 0
    )
    rows = await session.execute(
        select(AdvisoryPackage.ecosystem, func.count(func.distinct(AdvisoryPackage.advisory_id)))
        .group_by(AdvisoryPackage.ecosystem)
        .order_by(AdvisoryPackage.ecosystem)
    )
    newest = await session.scalar(select(func.max(AdvisoryRow.modified)))
    last = (
        await session.execute(
            select(VulndbImport.at, VulndbImport.source).order_by(VulndbImport.id.desc()).limit(1)
        )
    ).first()
    return VulndbStatus(
        advisories=int(total),
        withdrawn=int(withdrawn),
        by_ecosystem={e: int(n) for e, n in rows.all()},
        newest_modified=newest,
        last_import=last[0] if last else None,
        last_source=last[1] if last else None,
    )
