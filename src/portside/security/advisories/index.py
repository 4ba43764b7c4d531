"""An index of advisories by package, built once, asked many times.

:func:`build_index` keys every ``affected`` entry by ``(index ecosystem, normalized name)``
(:mod:`portside.security.advisories.ecosystems`), compiles it once (range boundaries parsed, fixed
versions
sorted) and keeps only what a finding reports about its advisory, not the advisory's text.
Withdrawn advisories are left out.

:meth:`AdvisoryIndex.matches` answers "which advisories affect version V of package P". Images
share base layers, so the same (package, version) is asked again and again: answers are
memoized in the index (bounded), which is what makes re-matching a thousand images cheap.
A much-advised package has hundreds of entries, nearly all fixed below the installed version:
each key asked gets a :class:`~portside.security.advisories.candidates.CandidatePlan` on first use,
and only
the entries it names are evaluated (:func:`evaluate` gives the same answer over all of them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from portside.security.advisories.candidates import CandidatePlan, plan
from portside.security.advisories.ecosystems import index_ecosystem, normalize_name
from portside.security.advisories.osv import Advisory, Affected
from portside.security.advisories.versions import (
    CompiledAffected,
    Verdict,
    VersionKeys,
    compile_affected,
)
from portside.security.severity import Severity

MEMO_LIMIT = 1 << 19  # memoized (package, version) answers kept before the memo starts over


@dataclass(frozen=True, slots=True)
class AdvisoryRef:
    """What a finding reports about an advisory."""

    id: str
    aliases: tuple[str, ...]
    related: tuple[str, ...]  # the advisory's ``upstream`` and ``related`` ids
    severity: Severity
    cvss_score: float | None

    @classmethod
    def of(cls, advisory: Advisory) -> AdvisoryRef:
        return cls(
            advisory.id,
            advisory.aliases,
            tuple(dict.fromkeys((*advisory.upstream, *advisory.related))),
            advisory.severity,
            advisory.cvss_score,
        )


class Match(NamedTuple):
    """An advisory that affects a package version, with the fix to upgrade to if known."""

    advisory: AdvisoryRef
    fixed_version: str | None  # the smallest ``fixed`` above the installed version


@dataclass(frozen=True)
class IndexEntry:
    advisory: AdvisoryRef
    affected: tuple[CompiledAffected, ...]  # this advisory's entries for one package


Answer = tuple[tuple[Match, ...], int]  # the matches, and how many advisories could not decide


class AdvisoryIndex:
    """Advisories by ``(index ecosystem, normalized name)``; see :func:`build_index`."""

    def __init__(
        self,
        entries: dict[tuple[str, str], tuple[IndexEntry, ...]],
        *,
        advisories: int,
        withdrawn: int,
        undecidable_ranges: int,
    ) -> None:
        self.entries = entries
        self.advisories = advisories  # indexed (not withdrawn)
        self.withdrawn = withdrawn
        self.undecidable_ranges = undecidable_ranges  # ranges no order can read
        self._memo: dict[tuple[str, str, str], Answer] = {}
        self._plans: dict[tuple[str, str], CandidatePlan] = {}

    def add(self, other: AdvisoryIndex) -> None:
        """Take in another index's keys (loaded later, for other packages: none of its keys
        has been asked of this one)."""
        self.entries.update(other.entries)
        self.advisories += other.advisories  # an advisory of both counts twice
        self.withdrawn += other.withdrawn
        self.undecidable_ranges += other.undecidable_ranges

    def lookup(self, ecosystem: str, name: str) -> tuple[IndexEntry, ...]:
        """The entries for a package, by its ecosystem and name as an advisory spells them."""
        key = (index_ecosystem(ecosystem), normalize_name(ecosystem, name))
        return self.entries.get(key, ())

    def matches(self, key_ecosystem: str, key_name: str, version: str) -> Answer:
        """The advisories affecting ``version`` of the package under an index key (memoized)."""
        memo_key = (key_ecosystem, key_name, version)
        answer = self._memo.get(memo_key)
        if answer is None:
            answer = self._evaluate((key_ecosystem, key_name), version)
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[memo_key] = answer
        return answer

    def _evaluate(self, key: tuple[str, str], version: str) -> Answer:
        """:func:`evaluate` over the entries the key's plan (made on first use) leaves."""
        entries = self.entries.get(key, ())
        if not entries:
            return (), 0
        key_plan = self._plans.get(key)
        if key_plan is None:
            key_plan = self._plans[key] = plan(entry.affected for entry in entries)
        keys = VersionKeys(version)
        chosen = key_plan.candidates(version, keys)
        if chosen is None:
            return evaluate(entries, version, keys)
        return evaluate([entries[i] for i in chosen], version, keys)


def evaluate(
    entries: Sequence[IndexEntry], version: str, keys: VersionKeys | None = None
) -> Answer:
    """Every entry checked in turn: the matches (with fix hints) and the undecided count."""
    found: list[Match] = []
    undecided = 0
    keys = keys if keys is not None else VersionKeys(version)
    for entry in entries:
        verdict = Verdict.NOT_AFFECTED
        for affected in entry.affected:
            this = affected.verdict(version, keys)
            if this is Verdict.AFFECTED:
                found.append(Match(entry.advisory, affected.fix_hint(version, keys)))
                break
            if this is Verdict.UNDECIDED:
                verdict = this
        else:
            undecided += verdict is Verdict.UNDECIDED
    return tuple(found), undecided


def key_of(affected: Affected) -> tuple[str, str]:
    """The index key (index ecosystem, normalized name) of an ``affected`` entry."""
    return index_ecosystem(affected.ecosystem), normalize_name(affected.ecosystem, affected.name)


def build_index(advisories: Iterable[Advisory]) -> AdvisoryIndex:
    """Index advisories by package; each ``affected`` entry is compiled once."""
    parts: list[tuple[tuple[str, str], AdvisoryRef, Sequence[Affected]]] = []
    withdrawn = 0
    for advisory in advisories:
        if advisory.is_withdrawn:
            withdrawn += 1
            continue
        ref = AdvisoryRef.of(advisory)
        by_key: dict[tuple[str, str], list[Affected]] = {}
        for affected in advisory.affected:
            by_key.setdefault(key_of(affected), []).append(affected)
        parts.extend((key, ref, entries) for key, entries in by_key.items())
    return index_of(parts, withdrawn=withdrawn)


def index_of(
    parts: Iterable[tuple[tuple[str, str], AdvisoryRef, Sequence[Affected]]], *, withdrawn: int = 0
) -> AdvisoryIndex:
    """An index of (index key, advisory, its ``affected`` entries for that key) parts, none of
    them withdrawn (``withdrawn`` counts those left out); a key's advisories in the order
    given, each entry compiled once."""
    compiled = (
        (key, ref, [compile_affected(affected) for affected in entries])
        for key, ref, entries in parts
    )
    return index_of_compiled(compiled, withdrawn=withdrawn)


def index_of_compiled(
    parts: Iterable[tuple[tuple[str, str], AdvisoryRef, Sequence[CompiledAffected]]],
    *,
    withdrawn: int = 0,
) -> AdvisoryIndex:
    """:func:`index_of` of entries compiled already."""
    grouped: dict[tuple[str, str], dict[str, tuple[AdvisoryRef, list[CompiledAffected]]]] = (
        defaultdict(dict)
    )
    ids: set[str] = set()
    undecidable = 0
    for key, ref, entries in parts:
        ids.add(ref.id)
        compiled = grouped[key].setdefault(ref.id, (ref, []))[1]
        for one in entries:
            undecidable += sum(1 for r in one.ranges if r.order is None)
            compiled.append(one)
    entries_by_key = {
        key: tuple(IndexEntry(ref, tuple(c)) for ref, c in by_id.values())
        for key, by_id in grouped.items()
    }
    return AdvisoryIndex(
        entries_by_key, advisories=len(ids), withdrawn=withdrawn, undecidable_ranges=undecidable
    )
