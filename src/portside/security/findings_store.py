"""The findings as rows (``findings``) and the advisories' names (``advisory_aliases``): all
their SQL, for writing. The security hub reads them (:mod:`portside.reads.vulnerabilities`).

``scan_targets.findings`` (the JSON the tag page shows) stays the record of a scan; the rows
mirror it, written in the same transaction wherever it is written (:func:`replace`: the scan
task's :func:`portside.security.scanning.queue.complete` and the re-match), only for the
digests that changed. A row is one (advisory, ecosystem, package, version) of one digest;
it keeps its ``created_at`` (first seen) while it stays, whatever else changes. Deleting a
scan target deletes its rows (``ON DELETE CASCADE``); deleting an advisory, its aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.models import AdvisoryAlias, Finding
from portside.security.advisories.osv import Advisory
from portside.security.severity import ORDER

CHUNK = 500  # ids per IN (...)
_FINDINGS = cast(Table, Finding.__table__)
MAX_ID = 255
MAX_ECOSYSTEM = 128
MAX_PACKAGE = 512
MAX_VERSION = 255

Key = tuple[str, str, str, str]  # advisory id, ecosystem, package, version


@dataclass(frozen=True)
class Row:
    """A finding as stored in ``findings`` (values clipped to the columns' sizes)."""

    advisory_id: str
    ecosystem: str
    package: str
    version: str
    fixed_version: str | None
    severity: str

    @property
    def key(self) -> Key:
        return (self.advisory_id, self.ecosystem, self.package, self.version)


def _text(value: Any, size: int) -> str:
    return str(value if value is not None else "")[:size]


def rows_of(findings: Iterable[Mapping[str, Any]]) -> dict[Key, Row]:
    """The rows of a findings list (pure): one per (advisory, ecosystem, package, version),
    the first one kept; a finding without an id is left out, an unknown severity is
    ``Unknown``."""
    rows: dict[Key, Row] = {}
    for finding in findings:
        if not finding.get("id"):
            continue
        fixed = finding.get("fixed_version")
        severity = finding.get("severity")
        row = Row(
            advisory_id=_text(finding["id"], MAX_ID),
            ecosystem=_text(finding.get("ecosystem"), MAX_ECOSYSTEM),
            package=_text(finding.get("package"), MAX_PACKAGE),
            version=_text(finding.get("version"), MAX_VERSION),
            fixed_version=_text(fixed, MAX_VERSION) if fixed else None,
            severity=severity if isinstance(severity, str) and severity in ORDER else "Unknown",
        )
        rows.setdefault(row.key, row)
    return rows


@dataclass(frozen=True)
class Plan:
    """What to write for one digest: rows to delete (by id), to insert, to update."""

    delete: list[int]
    insert: list[Row]
    update: list[tuple[int, Row]]


def plan(existing: Mapping[Key, tuple[int, str | None, str]], wanted: Mapping[Key, Row]) -> Plan:
    """The writes that turn the stored rows (key -> id, fixed version, severity) into
    ``wanted`` (pure): rows that stay keep their id and ``created_at``."""
    gone = [found[0] for key, found in existing.items() if key not in wanted]
    new = [row for key, row in wanted.items() if key not in existing]
    changed = [
        (found[0], row)
        for key, row in wanted.items()
        if (found := existing.get(key)) is not None
        and (found[1], found[2]) != (row.fixed_version, row.severity)
    ]
    return Plan(gone, new, changed)


async def replace(
    session: AsyncSession,
    findings: Sequence[tuple[int, Iterable[Mapping[str, Any]]]],
    now: datetime,
) -> None:
    """Make the rows of these scan targets (target id, its findings list) what the lists say."""
    wanted = {target: rows_of(items) for target, items in findings}
    targets = sorted(wanted)
    existing: dict[int, dict[Key, tuple[int, str | None, str]]] = {t: {} for t in targets}
    for start in range(0, len(targets), CHUNK):
        found = await session.execute(
            select(
                Finding.id,
                Finding.scan_target_id,
                Finding.advisory_id,
                Finding.ecosystem,
                Finding.package,
                Finding.version,
                Finding.fixed_version,
                Finding.severity,
            ).where(Finding.scan_target_id.in_(targets[start : start + CHUNK]))
        )
        for row in found.all():
            key = (row.advisory_id, row.ecosystem, row.package, row.version)
            existing[row.scan_target_id][key] = (row.id, row.fixed_version, row.severity)
    gone: list[int] = []
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for target in targets:
        writes = plan(existing[target], wanted[target])
        gone.extend(writes.delete)
        new.extend(
            {
                "scan_target_id": target,
                "advisory_id": r.advisory_id,
                "ecosystem": r.ecosystem,
                "package": r.package,
                "version": r.version,
                "fixed_version": r.fixed_version,
                "severity": r.severity,
                "created_at": now,
            }
            for r in writes.insert
        )
        changed.extend(
            {"id": i, "fixed_version": r.fixed_version, "severity": r.severity}
            for i, r in writes.update
        )
    for start in range(0, len(gone), CHUNK):
        await session.execute(delete(Finding).where(Finding.id.in_(gone[start : start + CHUNK])))
    if changed:
        await session.execute(update(Finding), changed)  # executemany by primary key
    if new:  # Core executemany: the ORM's bulk insert costs more per row
        await session.execute(insert(_FINDINGS), new)


def aliases_of(advisory: Advisory) -> dict[str, str]:
    """The names an advisory is searched by, by lower-case key (pure): its id, its aliases and
    the CVE ids among its upstream and related ids (as a finding's ``aliases`` lists them)."""
    names = [advisory.id, *advisory.aliases]
    names += [n for n in (*advisory.upstream, *advisory.related) if n.startswith("CVE-")]
    found: dict[str, str] = {}
    for name in names:
        if name and len(name) <= MAX_ID:
            found.setdefault(name.lower(), name)
    return found


async def replace_aliases(session: AsyncSession, advisories: Sequence[Advisory]) -> None:
    """The aliases of these (newly stored) advisories, replacing what they had."""
    ids = [a.id for a in advisories]
    for start in range(0, len(ids), CHUNK):
        await session.execute(
            delete(AdvisoryAlias).where(AdvisoryAlias.advisory_id.in_(ids[start : start + CHUNK]))
        )
    rows = [
        {"key": key, "advisory_id": a.id, "alias": name}
        for a in advisories
        for key, name in aliases_of(a).items()
    ]
    if rows:
        await session.execute(insert(AdvisoryAlias), rows)
