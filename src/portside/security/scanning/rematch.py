"""Keeping findings current: after a vulnerability-data import, every stored package list is
matched again (no registry download), and new findings are recorded as activities."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Table, Text, bindparam, cast, select, update

from portside import cyclegc
from portside.db.engine import Database
from portside.db.models import ScanTarget
from portside.db.types import EncodedJSON
from portside.index import store
from portside.index.vocabulary import ActivityKind, ScanTargetStatus
from portside.security import findings_store
from portside.security.advisories.match import AdvisoryIndex, Placed
from portside.security.scanning import advisory_store
from portside.security.scanning.backends import merge_findings
from portside.security.scanning.matching import (
    FindingCache,
    PlacedReader,
    lookup_keys,
    package_findings,
)
from portside.security.scanning.records import os_of
from portside.security.severity import ORDER, counts_from

log = logging.getLogger(__name__)

SCANNER_ACTOR = "portside-scanner"


@dataclass
class RematchResult:
    images: int = 0
    changed: int = 0
    new_findings: Counter[str] = field(default_factory=Counter)


def external_findings(stored: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """What the other scanner backends reported at the last scan (a target's stored
    findings), by backend: a re-match changes only the built-in scanner's part."""
    others: dict[str, list[dict[str, Any]]] = {}
    for finding in stored:
        for scanner in finding.get("scanners", []):
            if scanner != "builtin":
                plain = {k: v for k, v in finding.items() if k != "scanners"}
                others.setdefault(scanner, []).append(plain)
    return others


def _identity(finding: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a finding different for its reader: a changed severity or fix counts."""
    return (
        finding["id"],
        finding["package"],
        finding["version"],
        finding["severity"],
        finding.get("fixed_version"),
    )


def describe_new(new: Counter[str]) -> str:
    return ", ".join(f"{new[level]} new {level}" for level in ORDER if new.get(level))


async def rematch(
    db: Database, now: datetime, changed_keys: set[tuple[str, str]] | None = None
) -> RematchResult:
    """Match every scanned image again (only those touching ``changed_keys``, when given).

    The cycle collector is paused meanwhile (:mod:`portside.cyclegc`): the index and the
    findings are millions of objects that it would walk again and again for nothing."""
    with cyclegc.paused():
        result = await _rematch(db, now, changed_keys)
    if result.images:
        log.info(
            "re-matched %d images: %d changed (%s)",
            result.images,
            result.changed,
            describe_new(result.new_findings) or "nothing new",
            extra={
                "images": result.images,
                "changed": result.changed,
                "new_findings": dict(result.new_findings),
            },
        )
    return result


async def _rematch(
    db: Database, now: datetime, changed_keys: set[tuple[str, str]] | None
) -> RematchResult:
    result = RematchResult()
    async with db.read() as session:
        # The stored findings as their text: most of a re-match finds them unchanged, which
        # comparing texts tells without decoding them (see _changes).
        targets = (
            await session.execute(
                select(
                    ScanTarget.id,
                    ScanTarget.digest,
                    ScanTarget.os,
                    ScanTarget.packages,
                    cast(ScanTarget.findings, Text),
                ).where(
                    ScanTarget.status == ScanTargetStatus.DONE, ScanTarget.packages.is_not(None)
                )
            )
        ).all()
    prepared = []
    reader = PlacedReader()  # the storage boundary: the stored JSON read back as typed packages
    for target_id, digest, os_record, records, stored in targets:
        target = Target(target_id, digest)
        packages = reader.placed(os_of(os_record), records or [])
        if changed_keys is not None and not lookup_keys(packages) & changed_keys:
            continue
        prepared.append(Prepared(target, stored, packages))
    result.images = len(prepared)
    if not prepared:
        return result
    wanted = (
        reader.distinct()
        if len(prepared) == len(targets)
        else chain.from_iterable(p.packages for p in prepared)
    )
    async with db.read() as session:
        index, details = await advisory_store.load_index_and_details(session, lookup_keys(wanted))
    encoder = FindingsEncoder()
    changes = _changes(index, details, prepared, encoder)
    result.changed = len(changes)
    if changes:
        await _write(db, changes, now, result, encoder)
    return result


WRITE_CHUNK = 50  # images per write transaction: SQLite's write lock is let go between them

_TARGETS: Table = ScanTarget.__table__  # type: ignore[assignment]
_STORE = (
    update(_TARGETS)
    .where(_TARGETS.c.id == bindparam("target"))
    .values(
        findings=bindparam("new_findings", type_=EncodedJSON()),
        counts=bindparam("new_counts", type_=_TARGETS.c.counts.type),
        matched_at=bindparam("new_matched_at", type_=_TARGETS.c.matched_at.type),
    )
)


async def _write(
    db: Database,
    changes: list[Change],
    now: datetime,
    result: RematchResult,
    encoder: FindingsEncoder,
) -> None:
    """Store the changed findings and counts, and record the new findings as activities: a
    few dozen images per transaction, each image's findings, counts, activities and hub rows
    together, the JSON encoded before the transaction opens (so the webhook's writes, which
    go first on SQLite's write lock, wait for one part only, never for the whole re-match)."""
    grouping = findings_store.Grouping()
    for start in range(0, len(changes), WRITE_CHUNK):
        part = changes[start : start + WRITE_CHUNK]
        stored = []
        added: list[Counter[str]] = []
        for target, findings, new, sections, text in part:
            tally = Counter(map(itemgetter("severity"), findings))
            stored.append(
                {
                    "target": target.id,
                    "new_findings": encoder.encode(sections) if text is None else text,
                    "new_counts": counts_from(tally),
                    "new_matched_at": now,
                }
            )
            # ``new`` is a part of ``findings``: as long, it is all of them.
            same = len(new) == len(findings)
            added.append(tally if same else Counter(map(itemgetter("severity"), new)))
        async with db.write() as session:
            await session.execute(_STORE, stored)
            tags = await store.tags_on_digests(session, [c.target.digest for c in part if c.new])
            activities = []
            for change, counted in zip(part, added, strict=True):
                if change.new:
                    result.new_findings.update(counted)
                    activities += _new_activities(
                        tags.get(change.target.digest, []), change, counted, now
                    )
            await store.insert_activities(session, activities)
            # The hub's rows, in the same transaction, for the changed targets only.
            await findings_store.replace(
                session, [(c.target.id, c.sections) for c in part], now, grouping
            )


Findings = list[dict[str, Any]]


class Target(NamedTuple):
    """A scan target to match again."""

    id: int
    digest: str


class Change(NamedTuple):
    """A target whose findings a reader would see change."""

    target: Target
    findings: Findings
    new: Findings  # the findings whose id it did not have
    sections: list[Findings]  # the findings in parts, shared between images where possible
    text: str | None = None  # their JSON, when already encoded


class Prepared(NamedTuple):
    """A target to match again, its stored findings' JSON text, its packages."""

    target: Target
    stored: str | None
    packages: list[Placed]


def _changes(
    index: AdvisoryIndex,
    details: advisory_store.Details,
    targets: list[Prepared],
    encoder: FindingsEncoder,
) -> list[Change]:
    """The targets whose findings change, with their findings and the new ones among them
    (matching is done here, before the write transaction opens).

    A target whose stored text is exactly what the built-in scanner's findings encode to has
    not changed (the same findings, severities and fixes, and no other backend's): that is
    most targets of most re-matches, and comparing texts spares decoding them. Any other text
    is decoded and compared finding by finding, other backends' findings kept."""
    cache = FindingCache()
    changes = []
    for target, stored, packages in targets:
        sections = package_findings(index, packages, details, cache)
        text: str | None = encoder.encode(sections)
        if text == stored:
            continue
        before = (json.loads(stored) if stored else None) or []
        builtin = list(chain.from_iterable(sections))
        others = external_findings(before)
        if others:
            findings = merge_findings(("builtin", builtin), *others.items())
            sections, text = [findings], None
        else:
            findings = builtin  # what merge_findings returns for the built-in scanner alone
        if not _differ(findings, before):
            continue  # the same findings, severities and fixes: nothing to write
        old = {f["id"] for f in before}
        new = [f for f in findings if f["id"] not in old] if old else list(findings)
        changes.append(Change(target, findings, new, sections, text))
    return changes


class FindingsEncoder:
    """The JSON text of a findings list given in sections (:attr:`Change.sections`), each
    section encoded once however many images share it: images share most of their packages,
    and encoding their findings again and again was a good part of writing them. The text is
    the one ``json.dumps`` makes of the whole list."""

    def __init__(self) -> None:
        # By id(): lists are not hashable. Each is kept with its text, so no id is reused.
        self._texts: dict[int, tuple[Findings, str]] = {}

    def encode(self, sections: list[Findings]) -> str:
        return "[" + ", ".join(self._text(s) for s in sections if s) + "]"

    def _text(self, section: Findings) -> str:
        known = self._texts.get(id(section))
        if known is None:
            # A list's items, as json.dumps writes them inside its brackets.
            known = self._texts[id(section)] = (section, json.dumps(section)[1:-1])
        return known[1]


def _differ(findings: list[dict[str, Any]], before: list[dict[str, Any]]) -> bool:
    """Whether a reader would see a change (none stored before: any finding is one)."""
    if not before:
        return bool(findings)
    return {_identity(f) for f in findings} != {_identity(f) for f in before}


def _new_activities(
    tags: list[tuple[str, str]], change: Change, added: Counter[str], now: datetime
) -> list[dict[str, Any]]:
    """An activity per tag of the digest, naming its new findings."""
    ids = [f["id"] for f in change.new]
    digest = change.target.digest
    return [
        store.activity(
            ActivityKind.SCAN_NEW_VULNERABILITIES,
            now,
            actor=SCANNER_ACTOR,
            repository=repository,
            tag=tag,
            digest=digest,
            message=f"{describe_new(added)} in {repository}:{tag}",
            ids=ids[:50],
        )
        for repository, tag in tags
    ]
