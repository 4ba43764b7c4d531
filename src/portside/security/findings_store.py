"""The findings as rows (``findings``) and the advisories' names (``advisory_aliases``): all
their SQL, for writing. The security hub reads them (:mod:`portside.reads.vulnerabilities`).

``scan_targets.findings`` (the JSON the tag page shows) stays the record of a scan; the rows
mirror it, written in the same transaction wherever it is written (:func:`replace`: the scan
task's :func:`portside.security.scanning.queue.complete` and the re-match), only for the
digests that changed. A ``findings`` row is one (advisory, ecosystem, package, installed
version) with its fixed version and severity, shared by the digests that have it; an
``image_findings`` row says a digest has it (two integers: a re-match writing a thousand
images' findings writes little). A finding keeps its id and ``created_at`` (first found)
while any digest has it; a changed fix or severity is updated in place. Deleting a scan
target deletes its links (``ON DELETE CASCADE``); deleting an advisory, its aliases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.models import AdvisoryAlias, Finding, ImageFinding
from portside.security.advisories.osv import Advisory
from portside.security.severity import ORDER

CHUNK = 500  # ids per IN (...)
_FINDINGS = cast(Table, Finding.__table__)
_LINKS = cast(Table, ImageFinding.__table__)
MAX_ID = 255
MAX_ECOSYSTEM = 128
MAX_PACKAGE = 512
MAX_VERSION = 255

ROW_COLUMNS = (
    "advisory_id",
    "ecosystem",
    "package",
    "version",
    "fixed_version",
    "severity",
    "created_at",
)  # a findings row as inserted
Key = tuple[str, str, str, str]  # advisory id, ecosystem, package, version
Value = tuple[str | None, str]  # fixed version, severity
LEVELS = frozenset(ORDER)


def _text(value: Any, size: int) -> str:
    text = value if isinstance(value, str) else str(value if value is not None else "")
    return text if len(text) <= size else text[:size]


def row_of(finding: Mapping[str, Any]) -> tuple[Key, Value] | None:
    """A finding as a row (pure): its key and (fixed version, severity), each value clipped
    to its column's size; None without an id. An unknown severity is ``Unknown``."""
    advisory = finding.get("id")
    if not advisory:
        return None
    fixed = finding.get("fixed_version")
    severity = finding.get("severity")
    key = (
        _text(advisory, MAX_ID),
        _text(finding.get("ecosystem"), MAX_ECOSYSTEM),
        _text(finding.get("package"), MAX_PACKAGE),
        _text(finding.get("version"), MAX_VERSION),
    )
    return key, (
        _text(fixed, MAX_VERSION) if fixed else None,
        severity if severity in LEVELS else "Unknown",
    )


def rows_of(
    findings: Iterable[Mapping[str, Any]], memo: dict[int, tuple[Key, Value] | None] | None = None
) -> dict[Key, Value]:
    """The rows of a findings list (pure): one per (advisory, ecosystem, package, version),
    the first one kept. ``memo`` keeps each finding's row by ``id()`` while the findings
    live: a re-match shares one finding dict between the images that have the package."""
    rows: dict[Key, Value] = {}
    for finding in findings:
        if memo is None:
            found = row_of(finding)
        elif id(finding) in memo:
            found = memo[id(finding)]
        else:
            found = memo[id(finding)] = row_of(finding)
        if found is not None and found[0] not in rows:
            rows[found[0]] = found[1]
    return rows


def plan(existing: set[int], wanted: set[int]) -> tuple[list[int], list[int]]:
    """The links of one digest to delete and to insert (pure), by finding id."""
    return sorted(existing - wanted), sorted(wanted - existing)


async def replace(
    session: AsyncSession,
    findings: Sequence[tuple[int, Sequence[Sequence[Mapping[str, Any]]]]],
    now: datetime,
) -> None:
    """Make the rows of these scan targets what their findings say: (target id, its findings
    in sections) — a list of lists whose concatenation is the target's findings list; the
    re-match's sections are shared between the images that have the same package, and each
    is worked out once. Each distinct finding is found or added (its fix and severity
    updated in place), then each digest's links are changed where they differ; findings no
    digest has any more are deleted."""
    memo: dict[int, tuple[Key, Value] | None] = {}
    by_section: dict[int, dict[Key, Value]] = {}
    sections_of: dict[int, list[int]] = {}
    for target, sections in findings:
        for section in sections:
            if id(section) not in by_section:
                by_section[id(section)] = rows_of(section, memo)
        sections_of[target] = [id(section) for section in sections]
    ids = await _finding_ids(session, by_section.values(), now)
    section_ids = {sid: {ids[key] for key in rows} for sid, rows in by_section.items()}
    wanted: dict[int, set[int]] = {
        target: set().union(*(section_ids[sid] for sid in sids))
        for target, sids in sections_of.items()
    }
    targets = sorted(wanted)
    existing: dict[int, set[int]] = {t: set() for t in targets}
    for start in range(0, len(targets), CHUNK):
        found = await session.execute(
            select(ImageFinding.scan_target_id, ImageFinding.finding_id).where(
                ImageFinding.scan_target_id.in_(targets[start : start + CHUNK])
            )
        )
        for target, finding in found.all():
            existing[target].add(finding)
    gone: list[tuple[int, int]] = []
    new: list[tuple[int, int]] = []
    for target in targets:
        removed, added = plan(existing[target], wanted[target])
        gone.extend((target, f) for f in removed)
        new.extend((target, f) for f in added)
    if gone:
        await session.execute(
            delete(_LINKS).where(
                _LINKS.c.scan_target_id == bindparam("t"), _LINKS.c.finding_id == bindparam("f")
            ),
            [{"t": t, "f": f} for t, f in gone],
        )
        orphans = sorted({f for _, f in gone})
        for start in range(0, len(orphans), CHUNK):
            await session.execute(
                delete(Finding).where(
                    Finding.id.in_(orphans[start : start + CHUNK]),
                    ~exists().where(ImageFinding.finding_id == Finding.id),
                )
            )
    if new:
        await _executemany(session, "image_findings", ("scan_target_id", "finding_id"), new)


async def _finding_ids(
    session: AsyncSession, wanted: Iterable[Mapping[Key, Value]], now: datetime
) -> dict[Key, int]:
    """The id of each distinct finding, added when new; a changed fix or severity is
    updated in place."""
    values: dict[Key, Value] = {}
    for rows in wanted:
        for key, value in rows.items():
            values.setdefault(key, value)
    ids: dict[Key, int] = {}
    changed: list[dict[str, Any]] = []

    async def load(advisories: list[str]) -> None:
        for start in range(0, len(advisories), CHUNK):
            found = await session.execute(
                select(
                    Finding.id,
                    Finding.advisory_id,
                    Finding.ecosystem,
                    Finding.package,
                    Finding.version,
                    Finding.fixed_version,
                    Finding.severity,
                ).where(Finding.advisory_id.in_(advisories[start : start + CHUNK]))
            )
            for row in found.all():
                key = (row.advisory_id, row.ecosystem, row.package, row.version)
                if key in values and key not in ids:
                    ids[key] = row.id
                    if (row.fixed_version, row.severity) != values[key]:
                        fixed, severity = values[key]
                        changed.append({"id": row.id, "fixed_version": fixed, "severity": severity})

    await load(sorted({key[0] for key in values}))
    missing = [key for key in values if key not in ids]
    if missing:
        convert = _FINDINGS.c.created_at.type.bind_processor(session.get_bind().dialect)
        at = convert(now) if convert is not None else now
        await _executemany(
            session,
            "findings",
            ROW_COLUMNS,
            [(*key, *values[key], at) for key in missing],
        )
        await load(sorted({key[0] for key in missing}))
    if changed:
        await session.execute(update(Finding), changed)  # executemany by primary key
    return ids


async def _executemany(
    session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """One driver-level executemany of plain values (a re-match inserts hundreds of thousands
    of links: SQLAlchemy's per-row parameter processing cost more than the database's work)."""
    connection = await session.connection()
    style = connection.dialect.paramstyle
    if style == "qmark":
        marks = ", ".join("?" for _ in columns)
    elif style == "numeric_dollar":
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    else:  # format / pyformat
        marks = ", ".join("%s" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    await connection.exec_driver_sql(sql, rows)


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
