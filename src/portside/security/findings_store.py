"""The findings as rows (``finding_groups``, ``findings``, ``image_finding_groups``) and the
advisories' names (``advisory_aliases``): all their SQL, for writing. The security hub reads them
(:mod:`portside.reads.vulnerabilities`).

``scan_targets.findings`` (the JSON the tag page shows) stays the record of a scan; the rows
mirror it, written in the same transaction wherever it is written (:func:`replace`: the scan
task's :func:`portside.security.scanning.queue.complete` and the re-match), only for the
digests that changed.

A digest's findings are split by installed package (ecosystem, package, version): each part is
a *group*, stored once however many digests have it (a ``finding_groups`` row, named by a digest
of its rows, :func:`group_key`, and its ``findings`` rows: one (advisory, ecosystem, package,
version) with its fixed version and severity), and an ``image_finding_groups`` row says a digest
has it. Images share most of their packages, so a re-match that writes a thousand images'
findings writes one link per vulnerable package of each, not one per finding (161,000 rows
instead of 804,000 in ``bench/rematch.py``). A group never changes: a changed fix or severity
makes another group, and a group no digest links to any more is deleted with its findings
(``ON DELETE CASCADE``), as are a deleted scan target's links; deleting an advisory deletes its
aliases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from portside.db.models import AdvisoryAlias, FindingGroup, ImageFindingGroup
from portside.security.advisories.osv import Advisory
from portside.security.severity import ORDER

CHUNK = 500  # ids per IN (...)
_GROUPS = cast(Table, FindingGroup.__table__)
_LINKS = cast(Table, ImageFindingGroup.__table__)
MAX_ID = 255
MAX_ECOSYSTEM = 128
MAX_PACKAGE = 512
MAX_VERSION = 255

ROW_COLUMNS = (
    "group_id",
    "advisory_id",
    "ecosystem",
    "package",
    "version",
    "fixed_version",
    "severity",
)  # a findings row as inserted
Key = tuple[str, str, str, str]  # advisory id, ecosystem, package, version
Value = tuple[str | None, str]  # fixed version, severity
Installed = tuple[str, str, str]  # ecosystem, package, version
Group = tuple[tuple[Key, Value], ...]  # one installed package's rows, sorted
LEVELS = frozenset(ORDER)


def _text(value: Any, size: int) -> str:
    text = value if isinstance(value, str) else str(value if value is not None else "")
    return text if len(text) <= size else text[:size]


def row_of(finding: Mapping[str, Any]) -> tuple[Key, Value] | None:
    """A finding as a row (pure): its key and (fixed version, severity), each value clipped
    to its column's size; None without an id. An unknown severity is ``Unknown``."""
    get = finding.get  # (a re-match reads hundreds of thousands)
    advisory = get("id")
    if not advisory:
        return None
    ecosystem, package, version = get("ecosystem"), get("package"), get("version")
    fixed = get("fixed_version")
    severity = get("severity")
    key: Key
    if (
        type(advisory) is str
        and type(ecosystem) is str
        and type(package) is str
        and type(version) is str
        and len(advisory) <= MAX_ID
        and len(ecosystem) <= MAX_ECOSYSTEM
        and len(package) <= MAX_PACKAGE
        and len(version) <= MAX_VERSION
    ):
        key = (advisory, ecosystem, package, version)  # the usual finding: nothing to clip
    else:
        key = (
            _text(advisory, MAX_ID),
            _text(ecosystem, MAX_ECOSYSTEM),
            _text(package, MAX_PACKAGE),
            _text(version, MAX_VERSION),
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


def groups_of(rows: Mapping[Key, Value]) -> dict[Installed, Group]:
    """Rows split by installed package (pure), each group's rows sorted."""
    parts: dict[Installed, list[tuple[Key, Value]]] = {}
    for key, value in rows.items():
        parts.setdefault(key[1:], []).append((key, value))
    # By key: a group's rows differ in their keys (rows_of keeps one row per key), so their
    # values never decide the order.
    return {package: tuple(sorted(part, key=_KEY)) for package, part in parts.items()}


_KEY = itemgetter(0)


def group_key(group: Group) -> str:
    """The name of a group (pure): a SHA-256 of its rows, so the same findings of the same
    package are one group wherever they are found."""
    text = "\x1e".join(
        f"{advisory}\x1f{ecosystem}\x1f{package}\x1f{version}\x1f"
        f"{'-' if fixed is None else '+' + fixed}\x1f{severity}"
        for (advisory, ecosystem, package, version), (fixed, severity) in group
    )
    return hashlib.sha256(text.encode()).hexdigest()


def plan(existing: set[int], wanted: set[int]) -> tuple[list[int], list[int]]:
    """The links of one digest to delete and to insert (pure), by group id."""
    return sorted(existing - wanted), sorted(wanted - existing)


Named = dict[Installed, tuple[str, Group]]  # a section's groups, with their keys


def target_groups(
    sections: Sequence[Sequence[Mapping[str, Any]]],
    by_section: dict[int, Named],
    memo: dict[int, tuple[Key, Value] | None],
) -> dict[str, Group]:
    """One target's groups by key, from its sections (each worked out and named once, by
    ``id()``); a package found in more than one section is one group of their rows (the
    first kept)."""
    parts: dict[Installed, list[tuple[str, Group]]] = {}
    for section in sections:
        if not section:
            continue  # a package without findings (most of an image's)
        named = by_section.get(id(section))
        if named is None:
            groups = groups_of(rows_of(section, memo))
            named = by_section[id(section)] = {p: (group_key(g), g) for p, g in groups.items()}
        for package, pair in named.items():
            parts.setdefault(package, []).append(pair)
    found: dict[str, Group] = {}
    for package, alike in parts.items():
        if len(alike) == 1:
            key, group = alike[0]
        else:
            merged: dict[Key, Value] = {}
            for _, part in alike:
                for row_key, value in part:
                    merged.setdefault(row_key, value)
            group = groups_of(merged)[package]
            key = group_key(group)
        found[key] = group
    return found


class Grouping:
    """What :func:`replace` worked out of each section and finding, by ``id()``, kept for the
    next call while the sections live (a re-match writes its images in parts that share
    their sections)."""

    def __init__(self) -> None:
        self.memo: dict[int, tuple[Key, Value] | None] = {}
        self.by_section: dict[int, Named] = {}


async def replace(
    session: AsyncSession,
    findings: Sequence[tuple[int, Sequence[Sequence[Mapping[str, Any]]]]],
    now: datetime,
    grouping: Grouping | None = None,
) -> None:
    """Make the rows of these scan targets what their findings say: (target id, its findings
    in sections) — a list of lists whose concatenation is the target's findings list; the
    re-match's sections are shared between the images that have the same package, and each
    is worked out once. Each group is found or added with its findings, then each digest's
    links are changed where they differ; groups no digest has any more are deleted."""
    grouping = grouping or Grouping()
    groups: dict[str, Group] = {}
    keys_of: dict[int, list[str]] = {}
    for target, sections in findings:
        mine = target_groups(sections, grouping.by_section, grouping.memo)
        groups.update(mine)
        keys_of[target] = list(mine)
    await store_groups(session, keys_of, groups, now)


async def store_groups(
    session: AsyncSession,
    keys_of: Mapping[int, Sequence[str]],
    groups: Mapping[str, Group],
    now: datetime,
) -> None:
    """Make the rows of these scan targets their groups: (target id, its groups' keys), each
    key's rows in ``groups`` (:func:`target_groups` works them out)."""
    ids = await _group_ids(
        session, {key: groups[key] for keys in keys_of.values() for key in keys}, now
    )
    wanted = {target: {ids[key] for key in keys} for target, keys in keys_of.items()}
    targets = sorted(wanted)
    existing: dict[int, set[int]] = {t: set() for t in targets}
    for start in range(0, len(targets), CHUNK):
        found = await session.execute(
            select(ImageFindingGroup.scan_target_id, ImageFindingGroup.group_id).where(
                ImageFindingGroup.scan_target_id.in_(targets[start : start + CHUNK])
            )
        )
        for target, group in found.all():
            existing[target].add(group)
    gone: list[tuple[int, int]] = []
    new: list[tuple[int, int]] = []
    for target in targets:
        removed, added = plan(existing[target], wanted[target])
        gone.extend((target, g) for g in removed)
        new.extend((target, g) for g in added)
    if gone:
        await session.execute(
            delete(_LINKS).where(
                _LINKS.c.scan_target_id == bindparam("t"), _LINKS.c.group_id == bindparam("g")
            ),
            [{"t": t, "g": g} for t, g in gone],
        )
        orphans = sorted({g for _, g in gone})
        for start in range(0, len(orphans), CHUNK):
            await session.execute(
                delete(FindingGroup).where(
                    FindingGroup.id.in_(orphans[start : start + CHUNK]),
                    ~exists().where(ImageFindingGroup.group_id == FindingGroup.id),
                )
            )
    if new:
        await _executemany(session, "image_finding_groups", ("scan_target_id", "group_id"), new)


async def _group_ids(
    session: AsyncSession, groups: Mapping[str, Group], now: datetime
) -> dict[str, int]:
    """The id of each group, added with its findings when new. Two writers adding the same
    group at once (PostgreSQL, several workers) add it once: the key is unique, and only the
    writer whose insert made the row adds its findings."""
    ids: dict[str, int] = {}

    async def load(keys: list[str]) -> None:
        # At driver level, as the inserts: a re-match looks up ~90,000 keys, and binding
        # them through SQLAlchemy took twice the database's time.
        connection = await session.connection()
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            marks = _marks(connection, len(chunk))
            sql = f'SELECT "key", id FROM finding_groups WHERE "key" IN ({marks})'
            found = await connection.exec_driver_sql(sql, tuple(chunk))
            ids.update((key, group) for key, group in cast(list[tuple[str, int]], found.all()))

    await load(sorted(groups))
    missing = sorted(key for key in groups if key not in ids)
    if not missing:
        return ids
    made = await _insert_groups(session, missing, now)
    ids.update(made)
    await load([key for key in missing if key not in made])  # added meanwhile by another
    rows = [(made[key], *row_key, *value) for key in sorted(made) for row_key, value in groups[key]]
    if rows:
        await _executemany(session, "findings", ROW_COLUMNS, rows)
    return ids


def _marks(connection: AsyncConnection, count: int, start: int = 1) -> str:
    """``count`` parameter markers in the driver's style, numbered from ``start``."""
    if connection.dialect.paramstyle == "qmark":
        return ", ".join("?" for _ in range(count))
    if connection.dialect.paramstyle == "numeric_dollar":  # asyncpg
        return ", ".join(f"${n}" for n in range(start, start + count))
    return ", ".join("%s" for _ in range(count))  # format / pyformat


GROUPS_PER_INSERT = 1000  # rows of one INSERT ... VALUES (two parameters each)


async def _insert_groups(session: AsyncSession, keys: list[str], now: datetime) -> dict[str, int]:
    """Add these groups (a key another writer added meanwhile is left as it is): the id of
    each one added. Driver-level multi-row INSERTs: through SQLAlchemy, binding each row's
    values cost more than the database's work (a re-match adds tens of thousands)."""
    connection = await session.connection()
    dialect = connection.dialect
    processor = _GROUPS.c.created_at.type.bind_processor(dialect)
    stamp = processor(now) if processor is not None else now
    made: dict[str, int] = {}
    for start in range(0, len(keys), GROUPS_PER_INSERT):
        chunk = keys[start : start + GROUPS_PER_INSERT]
        rows = ", ".join(f"({_marks(connection, 2, 2 * n + 1)})" for n in range(len(chunk)))
        sql = (
            f'INSERT INTO finding_groups ("key", created_at) VALUES {rows} '
            'ON CONFLICT ("key") DO NOTHING RETURNING "key", id'
        )
        values = tuple(value for key in chunk for value in (key, stamp))
        result = await connection.exec_driver_sql(sql, values)
        made.update((key, group) for key, group in cast(list[tuple[str, int]], result.all()))
    return made


async def _executemany(
    session: AsyncSession, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """One driver-level executemany of plain values (a re-match inserts hundreds of thousands
    of rows: SQLAlchemy's per-row parameter processing cost more than the database's work)."""
    connection = await session.connection()
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(connection, len(columns))})"
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
