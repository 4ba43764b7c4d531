"""Is version V affected? Version orders per ecosystem, and OSV range evaluation.

Each ecosystem family compares versions in its own order
(:mod:`portside.security.advisories.orders`):
Debian/Ubuntu in dpkg order, Alpine (and Wolfi, Chainguard) in apk order, the RPM-based
distributions in rpm order, PyPI by PEP 440, npm/crates.io/Go by SemVer. A ``SEMVER`` range uses
SemVer whatever the ecosystem; ``GIT`` ranges name commits and never match a version; other
ecosystems have no order here, so their ranges cannot decide.

Evaluation follows the OSV specification's pseudocode: a version listed in ``versions`` is
affected; otherwise, for each range whose ``limit`` events (if any) lie above it, the events are
sorted in the range's order (``introduced: "0"`` first) and walked: an ``introduced`` at or below
the version makes it vulnerable, a ``fixed`` at or below it or a ``last_affected`` below it makes
it safe again. A range is compiled once (boundaries parsed), then checked many times.

A version or a boundary that its order cannot read does not raise: the answer is UNDECIDED, which
callers count, and never "affected".
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from portside.security.advisories.ecosystems import family
from portside.security.advisories.orders import (
    APK,
    DPKG,
    PEP440,
    RPM,
    SEMVER,
    VersionKey,
    VersionOrder,
)
from portside.security.advisories.osv import Affected, EventKind, Range, RangeType

_FAMILY_ORDERS: dict[str, VersionOrder] = {
    **dict.fromkeys(("Debian", "Ubuntu"), DPKG),
    **dict.fromkeys(("Alpine", "Wolfi", "Chainguard"), APK),
    **dict.fromkeys(
        (
            "Red Hat",
            "Rocky Linux",
            "AlmaLinux",
            "SUSE",
            "openSUSE",
            "Mageia",
            "openEuler",
            "Photon OS",
        ),
        RPM,
    ),
    "PyPI": PEP440,
    **dict.fromkeys(("npm", "crates.io", "Go"), SEMVER),
}
# Among events at the same version: introduced, then fixed, then last_affected (so that
# ``introduced: X, fixed: X`` is an empty range).
_KIND_RANK = {EventKind.INTRODUCED: 0, EventKind.FIXED: 1, EventKind.LAST_AFFECTED: 2}


class Verdict(enum.Enum):
    AFFECTED = "affected"
    NOT_AFFECTED = "not affected"
    UNDECIDED = "undecided"  # an unreadable version or boundary, or no order for the ecosystem


def order_for(ecosystem: str, range_type: RangeType = RangeType.ECOSYSTEM) -> VersionOrder | None:
    """The order a range of ``range_type`` in ``ecosystem`` uses, or None if it has none here."""
    if range_type is RangeType.SEMVER:
        return SEMVER
    if range_type is RangeType.ECOSYSTEM:
        return _FAMILY_ORDERS.get(family(ecosystem))
    return None


def compare_versions(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 in ``ecosystem``'s order; ValueError without an order or a valid version."""
    order = order_for(ecosystem)
    if order is None:
        raise ValueError(f"no version order for ecosystem {ecosystem!r}")
    return order.compare(a, b)


# (lower bound, upper bound, upper bound included): None bounds are open. Sorted, disjoint.
Interval = tuple[VersionKey | None, VersionKey | None, bool]


@dataclass(frozen=True)
class CompiledRange:
    """A range with its boundaries parsed. ``order`` None: the range cannot decide anything."""

    order: VersionOrder | None
    intervals: tuple[Interval, ...] = ()
    limits: tuple[VersionKey, ...] | None = None  # None: no limit ("*")
    problem: str = ""

    def contains(self, key: VersionKey) -> bool:
        if self.limits is not None and not any(key < limit for limit in self.limits):
            return False
        for low, high, high_included in self.intervals:
            if low is not None and key < low:
                return False  # sorted: the later intervals start higher still
            if high is None or key < high or (high_included and not high < key):
                return True
        return False


def _intervals(events: list[tuple[VersionKey | None, EventKind]]) -> tuple[Interval, ...]:
    """Walk the sorted events as the OSV pseudocode does, recording where the answer is yes."""
    events.sort(key=lambda e: (e[0] is not None, e[0], _KIND_RANK[e[1]]))
    intervals: list[Interval] = []
    start: VersionKey | None = None
    vulnerable = False
    for key, kind in events:
        if kind is EventKind.INTRODUCED:
            if not vulnerable:
                start, vulnerable = key, True
        elif vulnerable:  # fixed (excluded) or last_affected (included)
            intervals.append((start, key, kind is EventKind.LAST_AFFECTED))
            vulnerable = False
    if vulnerable:
        intervals.append((start, None, False))
    return tuple(intervals)


def compile_range(ecosystem: str, range_: Range) -> CompiledRange | None:
    """Parse a range's boundaries once. None for a GIT range (never matches by version)."""
    return compile_events(
        ecosystem, range_.type, range_.raw_type, [(e.kind, e.version) for e in range_.events]
    )


def compile_events(
    ecosystem: str, range_type: RangeType, raw_type: str, events: Iterable[tuple[EventKind, str]]
) -> CompiledRange | None:
    """:func:`compile_range` of a range given as its type, its type as written and its
    (kind, version) events (a loader that has them so builds no :class:`Range`)."""
    if range_type is RangeType.GIT:
        return None
    order = order_for(ecosystem, range_type)
    if order is None:
        what = f"range type {raw_type!r}" if range_type is RangeType.UNKNOWN else "ecosystem"
        return CompiledRange(None, problem=f"no version order for {what} in {ecosystem!r}")
    keyed: list[tuple[VersionKey | None, EventKind]] = []
    limits: list[VersionKey] = []
    unlimited = False
    for kind, version in events:
        if kind is EventKind.INTRODUCED and version == "0":
            keyed.append((None, kind))
            continue
        if kind is EventKind.LIMIT and "*" in version:
            unlimited = True
            continue
        key = order.key(version)
        if key is None:
            problem = f"unreadable {order.name} version {version!r} in a {kind} event"
            return CompiledRange(None, problem=problem)
        if kind is EventKind.LIMIT:
            limits.append(key)
        else:
            keyed.append((key, kind))
    bounded = tuple(limits) if limits and not unlimited else None
    return CompiledRange(order, _intervals(keyed), bounded)


@dataclass(frozen=True)
class CompiledAffected:
    """An ``affected`` entry ready for repeated checks."""

    versions: frozenset[str]
    ranges: tuple[CompiledRange, ...]
    hint_order: VersionOrder | None
    fixed_keys: tuple[VersionKey, ...]  # sorted in hint_order
    fixed_texts: tuple[str, ...]  # the same, as written in the advisory

    def verdict(self, version: str, keys: VersionKeys | None = None) -> Verdict:
        """Whether ``version`` is affected; ``keys`` shares its parsed forms between calls."""
        if version in self.versions:
            return Verdict.AFFECTED
        keys = keys if keys is not None else VersionKeys(version)
        undecided = False
        for compiled in self.ranges:
            key = keys[compiled.order]
            if key is None:
                undecided = True
            elif compiled.contains(key):
                return Verdict.AFFECTED
        return Verdict.UNDECIDED if undecided else Verdict.NOT_AFFECTED

    def fix_hint(self, version: str, keys: VersionKeys | None = None) -> str | None:
        """The smallest ``fixed`` version above ``version``, if any can be told."""
        key = (keys if keys is not None else VersionKeys(version))[self.hint_order]
        if key is None:
            return None
        index = bisect_right(self.fixed_keys, key)
        return self.fixed_texts[index] if index < len(self.fixed_texts) else None


class VersionKeys(dict[VersionOrder | None, VersionKey | None]):
    """One version's sort key in each order, parsed on first use (``keys[None]`` is None)."""

    def __init__(self, version: str) -> None:
        super().__init__({None: None})
        self.version = version

    def __missing__(self, order: VersionOrder | None) -> VersionKey | None:
        key = self[order] = order.key(self.version) if order is not None else None
        return key


def compile_affected(affected: Affected) -> CompiledAffected:
    return compile_parts(
        affected.versions,
        [compile_range(affected.ecosystem, r) for r in affected.ranges],
        affected.fixed_versions,
    )


def compile_parts(
    versions: frozenset[str],
    compiled: Iterable[CompiledRange | None],
    fixed_versions: Iterable[str],
) -> CompiledAffected:
    """:func:`compile_affected` of an entry given as its parts: its versions, compiled ranges
    (:func:`compile_events`) and fixed versions (for hints)."""
    ranges = tuple(c for c in compiled if c is not None)
    hint_order = next((c.order for c in ranges if c.order is not None), None)
    fixed: list[tuple[VersionKey, str]] = []
    if hint_order is not None:
        for text in fixed_versions:
            key = hint_order.key(text)
            if key is not None:
                fixed.append((key, text))
    fixed.sort(key=lambda pair: pair[0])
    return CompiledAffected(
        versions,
        ranges,
        hint_order,
        tuple(key for key, _ in fixed),
        tuple(text for _, text in fixed),
    )


@lru_cache(maxsize=4096)
def _compiled(affected: Affected) -> CompiledAffected:
    return compile_affected(affected)


def is_affected(affected: Affected, version: str) -> Verdict:
    """Whether ``version`` of the package ``affected`` describes is affected (OSV semantics)."""
    return _compiled(affected).verdict(version)
