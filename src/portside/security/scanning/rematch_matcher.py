"""The re-match's matching, part by part: which of a few hundred stored images' findings change,
with what a writer needs to store them (their stored form, counts, new findings, groups).

A :class:`Matcher` keeps what the parts share: the matcher's index (grown with each part's
packages, each advisory loaded once), the packages read, the findings built, and the groups
worked out (each group's rows returned once). It runs in the re-match's own process or in a
worker process (:mod:`portside.security.scanning.rematch_workers`); either way it only reads
the database.
What it returns (:class:`Part`) is plain data: strings, numbers, tuples.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple

from portside.db.engine import Database
from portside.db.types import compress, decode, encode, json_of, value_of
from portside.security import findings_store
from portside.security.advisories.index import AdvisoryIndex
from portside.security.advisories.match import Placed
from portside.security.scanning import advisory_store
from portside.security.scanning.backends import merge_findings
from portside.security.scanning.matching import (
    FindingCache,
    PlacedReader,
    lookup_keys,
    package_findings,
)
from portside.security.scanning.records import os_of
from portside.security.severity import counts_from

log = logging.getLogger(__name__)

Findings = list[dict[str, Any]]
ACTIVITY_IDS = 50  # new finding ids an activity names


class Item(NamedTuple):
    """A stored image to match again, as read from ``scan_targets``."""

    id: int
    digest: str
    os: Any  # the stored OS record
    packages: str | bytes | None  # the stored package records: JSON text, or compressed
    findings: str | bytes | None  # the stored findings: JSON text, or compressed (SQLite)


class Outcome(NamedTuple):
    """An image whose findings a reader would see change, ready to store."""

    id: int
    digest: str
    stored: str | bytes  # its findings as the column stores them (JSON text, or compressed)
    counts: dict[str, int]
    new_ids: list[str]  # the first ids of the findings it did not have
    added: dict[str, int]  # the new findings by severity
    groups: list[str]  # the keys of its findings' groups (findings_store)


class Part(NamedTuple):
    """What matching a part of the images gives: how many were matched (those touching the
    changed keys), the changed ones, and the rows of their groups by key: only of the groups
    this matcher has not returned in an earlier part (the writer keeps them all, for the re-match;
    images share most of their groups, and sending them again from a worker process was most
    of what it sent)."""

    images: int
    outcomes: list[Outcome]
    groups: dict[str, findings_store.Group]


class Matcher:
    """Matching stored images again, part after part; see the module's docstring."""

    def __init__(
        self, changed_keys: set[tuple[str, str]] | None = None, *, compressed: bool = False
    ) -> None:
        self.changed_keys = changed_keys
        self.compressed = compressed  # the findings column stores compressed JSON (SQLite)
        self.reader = PlacedReader()
        self.index = AdvisoryIndex({}, advisories=0, withdrawn=0, undecidable_ranges=0)
        self.details: advisory_store.Details = {}
        self.loaded: set[tuple[str, str]] = set()
        self.cache = FindingCache()
        self.grouping = findings_store.Grouping()
        self.returned: set[str] = set()  # the keys of the groups returned in earlier parts
        # With changed keys, by what lookup_keys reads of a package (ecosystem, name, source):
        # whether it is looked up under a changed key, and those whose keys are wanted. Worked
        # out once per distinct package, not for each image that has it: after a large import,
        # lookup_keys over every package of every image cost a fifth of the re-match.
        self._touches: dict[tuple[str, str, str | None], bool] = {}
        self._wanted: set[tuple[str, str, str | None]] = set()

    async def part(self, db: Database, items: Sequence[Item]) -> Part:
        prepared: list[tuple[Item, list[Placed]]] = []
        for item in items:
            try:
                records = value_of(item.packages) if item.packages else []
            except ValueError as exc:
                # Left as it is (its findings kept), the other images matched.
                log.warning("re-match: %s has unreadable stored packages (%s)", item.digest, exc)
                continue
            packages = self.reader.placed(
                os_of(item.os), records if isinstance(records, list) else []
            )
            if self.changed_keys is not None and not self._touches_changed(packages):
                continue
            prepared.append((item, packages))
        fresh = self.reader.fresh()  # the packages not met in an earlier part
        if not prepared:
            return Part(0, [], {})
        if self.changed_keys is None:
            missing = lookup_keys(fresh) - self.loaded
        else:  # the fresh packages of images left out are not looked up
            missing = lookup_keys(self._not_yet_wanted(p for _, p in prepared)) - self.loaded
        if missing:
            async with db.read() as session:
                index, details = await advisory_store.load_index_and_details(session, missing)
            self.index.add(index)
            self.details.update(details)
            self.loaded |= missing
        outcomes: list[Outcome] = []
        groups: dict[str, findings_store.Group] = {}
        for item, packages in prepared:
            outcome = self._outcome(item, packages, groups)
            if outcome is not None:
                outcomes.append(outcome)
        return Part(len(prepared), outcomes, groups)

    def _touches_changed(self, packages: list[Placed]) -> bool:
        """Whether an image with these packages is looked up under a changed key."""
        touches, changed = self._touches, self.changed_keys
        assert changed is not None
        for package in packages:
            key = (package.ecosystem, package.name, package.source_name)
            found = touches.get(key)
            if found is None:
                found = touches[key] = not lookup_keys((package,)).isdisjoint(changed)
            if found:
                return True
        return False

    def _not_yet_wanted(self, images: Iterable[list[Placed]]) -> list[Placed]:
        """The packages of these images (one of each) whose keys no earlier part wanted."""
        wanted, found = self._wanted, []
        for package in chain.from_iterable(images):
            key = (package.ecosystem, package.name, package.source_name)
            if key not in wanted:
                wanted.add(key)
                found.append(package)
        return found

    def _outcome(
        self, item: Item, packages: list[Placed], groups: dict[str, findings_store.Group]
    ) -> Outcome | None:
        """The image's outcome if its findings change (its groups added to ``groups``).

        An image whose stored findings are exactly what the built-in scanner's findings encode
        to has not changed (the same findings, severities and fixes, and no other backend's):
        that is most images of most re-matches, and comparing stored forms spares decoding
        them. Anything else is decoded and compared finding by finding, other backends'
        findings kept."""
        sections = package_findings(self.index, packages, self.details, self.cache)
        builtin = list(chain.from_iterable(sections))
        data = encode(builtin)
        try:
            stored = json_of(item.findings) if item.findings else None
            if stored is not None and stored == (
                data if isinstance(stored, bytes) else data.decode()
            ):
                return None
            before = (decode(stored) if stored else None) or []
        except ValueError as exc:  # damaged: replaced by what is found now
            log.warning("re-match: %s has unreadable stored findings (%s)", item.digest, exc)
            before = []
        others = external_findings(before)
        if others:
            findings = merge_findings(("builtin", builtin), *others.items())
            sections, data = [findings], encode(findings)
        else:
            findings = builtin  # what merge_findings returns for the built-in scanner alone
        if not differ(findings, before):
            return None  # the same findings, severities and fixes: nothing to write
        old = {f["id"] for f in before}
        new = [f for f in findings if f["id"] not in old] if old else findings
        tally = Counter(map(itemgetter("severity"), findings))
        added = tally if len(new) == len(findings) else Counter(map(itemgetter("severity"), new))
        mine = findings_store.target_groups(sections, self.grouping.by_section, self.grouping.memo)
        returned = self.returned
        for key, group in mine.items():
            if key not in returned:
                returned.add(key)
                groups[key] = group
        return Outcome(
            item.id,
            item.digest,
            compress(data) if self.compressed else data.decode(),
            counts_from(tally),
            [f["id"] for f in new[:ACTIVITY_IDS]],
            dict(added),
            list(mine),
        )


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


def _identity(finding: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a finding different for its reader: a changed severity or fix counts."""
    return (
        finding["id"],
        finding["package"],
        finding["version"],
        finding["severity"],
        finding.get("fixed_version"),
    )


def differ(findings: list[dict[str, Any]], before: list[dict[str, Any]]) -> bool:
    """Whether a reader would see a change (none stored before: any finding is one)."""
    if not before:
        return bool(findings)
    return {_identity(f) for f in findings} != {_identity(f) for f in before}
