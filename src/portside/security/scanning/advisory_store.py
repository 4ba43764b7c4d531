"""Vulnerability data in the database: importing OSV records, and the matcher's index.

Records are stored as imported (``advisories.data``) with the packages they affect
(``advisory_packages``, keyed as the matcher looks them up), so a match loads only the
advisories of the packages at hand, and a re-match after an import needs no download.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.engine import Database
from portside.db.models import Advisory as AdvisoryRow
from portside.db.models import AdvisoryPackage, AdvisorySource, VulndbImport
from portside.errors import StorageError
from portside.security import findings_store
from portside.security.advisories.ecosystems import index_ecosystem
from portside.security.advisories.index import (
    AdvisoryIndex,
    AdvisoryRef,
    index_of_compiled,
    key_of,
)
from portside.security.advisories.load import LoadReport, read_located
from portside.security.advisories.osv import Advisory, parse_advisory
from portside.security.advisories.stored import (
    LINKS,
    affected_forms,
    brief_form,
    compiled_of,
    links_of,
    ref_of,
)
from portside.security.advisories.versions import CompiledAffected, compile_affected

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class ImportResult:
    records: int = 0
    changed: int = 0
    problems: list[str] = field(default_factory=list)
    changed_keys: set[tuple[str, str]] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)  # every record stored (new, changed or not)
    ecosystems: Counter[str] = field(default_factory=Counter)  # records by index ecosystem


def keys_of(advisory: Advisory) -> set[tuple[str, str]]:
    return {key_of(a) for a in advisory.affected}


Located = tuple[str, dict[str, Any], Advisory]  # where it was read, the record, parsed


@dataclass
class _Stored:
    records: int = 0
    changed: int = 0
    keys: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    ecosystems: Counter[str] = field(default_factory=Counter)


async def _store_batch(
    session: AsyncSession, batch: list[Located], now: datetime, source_id: int | None = None
) -> _Stored:
    """Store a batch of records with distinct ids. A record whose id this import stored
    already (``imported_at`` is this import's time: an earlier batch had it) is reported.
    With ``source_id``, each record stored is recorded as held by that source."""
    stored = _Stored()
    ids = [advisory.id for _, _, advisory in batch]
    existing = {
        row.id: row
        for row in (
            await session.execute(
                select(AdvisoryRow.id, AdvisoryRow.modified, AdvisoryRow.imported_at).where(
                    AdvisoryRow.id.in_(ids)
                )
            )
        ).all()
    }
    fresh: list[Located] = []
    for where, raw, advisory in batch:
        row = existing.get(advisory.id)
        if row is not None and row.imported_at == now:
            stored.problems.append(_duplicate(where, advisory.id, "an earlier file"))
            continue
        stored.records += 1
        stored.ids.append(advisory.id)
        stored.ecosystems.update({index_ecosystem(a.ecosystem) for a in advisory.affected})
        if row is None or row.modified != advisory.modified or advisory.modified is None:
            fresh.append((where, raw, advisory))
    if fresh:
        await _store_fresh(session, fresh, existing, now, stored)
    if source_id is not None:  # after the records: a link names a stored record
        await _link(session, stored.ids, source_id)
    return stored


async def _store_fresh(
    session: AsyncSession,
    fresh: list[Located],
    existing: dict[str, Any],
    now: datetime,
    stored: _Stored,
) -> None:
    changed_ids = [advisory.id for _, _, advisory in fresh]
    # Keys of the old versions too: a package an advisory no longer names must be re-matched.
    old_keys = await session.execute(
        select(AdvisoryPackage.ecosystem, AdvisoryPackage.name).where(
            AdvisoryPackage.advisory_id.in_(changed_ids)
        )
    )
    stored.keys.update((e, n) for e, n in old_keys.all())
    await session.execute(
        delete(AdvisoryPackage).where(AdvisoryPackage.advisory_id.in_(changed_ids))
    )
    # Changed rows are updated in place, not replaced: the sources holding them stay linked.
    values = [
        {
            "id": advisory.id,
            "modified": advisory.modified,
            "withdrawn": advisory.is_withdrawn,
            "severity": str(advisory.severity),
            "summary": advisory.summary or None,
            "data": raw,
            "imported_at": now,
            "brief": brief_form(advisory),
        }
        for _, raw, advisory in fresh
    ]
    known = [v for v in values if v["id"] in existing]
    if known:
        await session.execute(update(AdvisoryRow), known)
    session.add_all(AdvisoryRow(**v) for v in values if v["id"] not in existing)
    await session.flush()
    rows: list[dict[str, Any]] = []
    for _, _, advisory in fresh:
        forms = affected_forms(advisory)
        stored.keys.update(forms)
        rows.extend(
            {"advisory_id": advisory.id, "ecosystem": e, "name": n, "affected": forms[e, n]}
            for e, n in sorted(forms)
        )
    if rows:
        await session.execute(insert(AdvisoryPackage), rows)
    # The names the security hub searches by (findings_store owns that table's SQL).
    await findings_store.replace_aliases(session, [advisory for _, _, advisory in fresh])
    stored.changed = len(fresh)


async def _link(session: AsyncSession, ids: list[str], source_id: int) -> None:
    """Record ``ids`` as held by the source (those it held already are left alone)."""
    if not ids:
        return
    linked = set(
        (
            await session.scalars(
                select(AdvisorySource.advisory_id).where(
                    AdvisorySource.source_id == source_id, AdvisorySource.advisory_id.in_(ids)
                )
            )
        ).all()
    )
    new = [{"advisory_id": i, "source_id": source_id} for i in ids if i not in linked]
    if new:
        await session.execute(insert(AdvisorySource), new)


async def withdraw_missing(
    db: Database, source_id: int, present: set[str]
) -> tuple[list[str], set[tuple[str, str]]]:
    """Forget that the source holds the advisories not in ``present`` (its latest archive),
    and delete those no other source (nor a hand import) holds. Returns the deleted ids and
    the (ecosystem, name) keys they named, to re-match."""
    async with db.write() as session:
        held = set(
            (
                await session.scalars(
                    select(AdvisorySource.advisory_id).where(AdvisorySource.source_id == source_id)
                )
            ).all()
        )
        gone = sorted(held - present)
        deleted: list[str] = []
        keys: set[tuple[str, str]] = set()
        for start in range(0, len(gone), BATCH):
            chunk = gone[start : start + BATCH]
            await session.execute(
                delete(AdvisorySource).where(
                    AdvisorySource.source_id == source_id, AdvisorySource.advisory_id.in_(chunk)
                )
            )
            still = set(
                (
                    await session.scalars(
                        select(AdvisorySource.advisory_id).where(
                            AdvisorySource.advisory_id.in_(chunk)
                        )
                    )
                ).all()
            )
            orphans = [i for i in chunk if i not in still]
            if not orphans:
                continue
            rows = await session.execute(
                select(AdvisoryPackage.ecosystem, AdvisoryPackage.name).where(
                    AdvisoryPackage.advisory_id.in_(orphans)
                )
            )
            keys.update((e, n) for e, n in rows.all())
            await session.execute(
                delete(AdvisoryPackage).where(AdvisoryPackage.advisory_id.in_(orphans))
            )
            await session.execute(delete(AdvisoryRow).where(AdvisoryRow.id.in_(orphans)))
            deleted.extend(orphans)
    if deleted:
        log.info("vulndb: %d advisories left source %d and were withdrawn", len(deleted), source_id)
    return deleted, keys


def _duplicate(where: str, advisory_id: str, first: str) -> str:
    return f"{where}: id {advisory_id} appears again (first in {first}); this one is not imported"


def _refusal(exc: StorageError) -> str:
    """The driver's own reason, first line, without the statement or its parameters."""
    cause = exc.__cause__
    reason = getattr(cause, "orig", None) or cause or exc
    return str(reason).splitlines()[0][:200] if str(reason) else type(reason).__name__


async def _store(
    db: Database,
    batch: list[Located],
    now: datetime,
    result: ImportResult,
    source_id: int | None = None,
) -> None:
    """One transaction for the batch; if the database refuses it, each record on its own, so
    only the culprit is left out (and reported)."""
    try:
        async with db.write() as session:
            stored = await _store_batch(session, batch, now, source_id)
    except StorageError as exc:
        if len(batch) == 1:
            where, _, advisory = batch[0]
            log.warning("vulndb: the database refused %s (%s): %s", advisory.id, where, exc)
            result.problems.append(f"{where}: refused by the database: {_refusal(exc)}")
            return
        for one in batch:
            await _store(db, [one], now, result, source_id)
        return
    result.ids.update(stored.ids)
    result.ecosystems.update(stored.ecosystems)
    result.records += stored.records
    result.changed += stored.changed
    result.changed_keys.update(stored.keys)
    result.problems.extend(stored.problems)


async def import_path(
    db: Database,
    path: Path,
    now: datetime,
    *,
    source_id: int | None = None,
    label: str | None = None,
) -> ImportResult:
    """Import a folder of OSV JSON files or an osv.dev ``all.zip``; bad records (unreadable,
    a NUL, an id seen before in the same source, refused by the database) are reported, every
    other one imported. The first record of an id wins. With ``source_id`` every record stored
    is recorded as held by that source (``label`` names it in the import's history)."""
    report = LoadReport()
    result = ImportResult()
    batch: dict[str, Located] = {}
    for where, raw, advisory in read_located(path, report):
        first = batch.get(advisory.id)
        if first is not None:
            result.problems.append(_duplicate(where, advisory.id, first[0]))
            continue
        batch[advisory.id] = (where, raw, advisory)
        if len(batch) >= BATCH:
            await _store(db, list(batch.values()), now, result, source_id)
            batch = {}
    if batch:
        await _store(db, list(batch.values()), now, result, source_id)
    result.problems = [f"{p.source}: {p.reason}" for p in report.problems] + result.problems
    async with db.write() as session:
        session.add(
            VulndbImport(
                at=now,
                source=label or str(path),
                records=result.records,
                changed=result.changed,
                errors=result.problems[:100],
            )
        )
    log.info(
        "vulndb: imported %d records from %s (%d new or changed, %d refused)",
        result.records,
        label or path,
        result.changed,
        len(result.problems),
    )
    return result


Details = dict[str, tuple[str | None, list[str]]]  # advisory id -> (summary, links)


_ENTRIES = (
    select(
        AdvisoryPackage.ecosystem,
        AdvisoryPackage.name,
        AdvisoryPackage.advisory_id,
        AdvisoryPackage.affected,
        AdvisoryRow.withdrawn,
        AdvisoryRow.severity,
        AdvisoryRow.summary,
        AdvisoryRow.brief,
    )
    .join(AdvisoryRow, AdvisoryRow.id == AdvisoryPackage.advisory_id)
    .where(AdvisoryPackage.ecosystem == bindparam("ecosystem"))
)


async def load_index_and_details(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> tuple[AdvisoryIndex, Details]:
    """The matcher's index for these (ecosystem, name) keys, and the summary and links of its
    advisories, from the forms stored at import (:mod:`portside.security.advisories.stored`);
    a record stored without them (or with forms this version cannot read) is parsed whole."""
    wanted = set(keys)
    by_ecosystem: dict[str, list[str]] = {}
    for ecosystem, name in sorted(wanted):
        by_ecosystem.setdefault(ecosystem, []).append(name)
    loaded = _Loaded()
    for ecosystem, names in by_ecosystem.items():
        for start in range(0, len(names), 500):
            rows = await session.execute(
                _ENTRIES.where(AdvisoryPackage.name.in_(names[start : start + 500])),
                {"ecosystem": ecosystem},
            )
            for row in rows:
                loaded.add(*row)
    if loaded.unread:
        for advisory in await _parsed(session, sorted(loaded.unread)):
            loaded.add_parsed(advisory, wanted)
    return loaded.index(), loaded.details


class _Loaded:
    """What :func:`load_index_and_details` has read so far."""

    def __init__(self) -> None:
        self.parts: list[tuple[tuple[str, str], AdvisoryRef, list[CompiledAffected]]] = []
        self.refs: dict[str, AdvisoryRef] = {}
        self.details: Details = {}
        self.withdrawn: set[str] = set()
        self.unread: set[str] = set()  # stored without forms this version reads
        self.reparsed: list[tuple[tuple[str, str], AdvisoryRef, list[CompiledAffected]]] = []

    def add(
        self,
        ecosystem: str,
        name: str,
        advisory_id: str,
        affected: Any,
        withdrawn: bool,
        severity: str,
        summary: str | None,
        brief: Any,
    ) -> None:
        """One (key, advisory) row of :data:`_ENTRIES`."""
        if withdrawn:
            self.withdrawn.add(advisory_id)
            return
        try:
            ref = self.refs.get(advisory_id)
            if ref is None:
                ref = self.refs[advisory_id] = ref_of(advisory_id, severity, brief)
                self.details[advisory_id] = (summary, links_of(brief))
            if not isinstance(affected, list):
                raise ValueError("no stored affected entries")
            self.parts.append(((ecosystem, name), ref, [compiled_of(form) for form in affected]))
        except ValueError:
            self.unread.add(advisory_id)

    def add_parsed(self, advisory: Advisory, wanted: set[tuple[str, str]]) -> None:
        """An advisory whose stored forms could not be read, parsed from its record."""
        if advisory.is_withdrawn:
            self.withdrawn.add(advisory.id)
            return
        self.details[advisory.id] = _details(advisory)
        ref = AdvisoryRef.of(advisory)
        by_key: dict[tuple[str, str], list[CompiledAffected]] = {}
        for affected in advisory.affected:  # compiled as parsed, in record order
            if (key := key_of(affected)) in wanted:
                by_key.setdefault(key, []).append(compile_affected(affected))
        self.reparsed.extend((key, ref, compiled) for key, compiled in by_key.items())

    def index(self) -> AdvisoryIndex:
        # A key's advisories in id order: the findings' order, and so their stored text, stays
        # the same from one load to the next.
        kept = [part for part in self.parts if part[1].id not in self.unread]
        parts = sorted(kept + self.reparsed, key=lambda part: part[1].id)
        return index_of_compiled(parts, withdrawn=len(self.withdrawn))


async def _parsed(session: AsyncSession, ids: list[str]) -> list[Advisory]:
    advisories: list[Advisory] = []
    for start in range(0, len(ids), 500):
        rows = await session.scalars(
            select(AdvisoryRow.data).where(AdvisoryRow.id.in_(ids[start : start + 500]))
        )
        advisories.extend(parse_advisory(raw).advisory for raw in rows.all())
    return advisories


def _details(advisory: Advisory) -> tuple[str | None, list[str]]:
    return advisory.summary or None, list(advisory.references[:LINKS])


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
