"""Which of a package's advisories can affect a version, found without evaluating them all.

A much-advised source package (the kernel, glibc, openssl) has hundreds of advisories, nearly all
fixed long before the installed version, and walking every range for every asked version was
most of a re-match. A :class:`CandidatePlan`, built once per index key, narrows the key's entries
to those that could answer "affected" or "undecided" for a version; the usual evaluation then
runs on those alone, so the answer is the one evaluating every entry would give.

An entry is a candidate for version V when V is in one of its ``versions`` lists, when one of its
ranges has an interval whose upper bound is not below V (or has no upper bound), or when one of
its ranges has no order (it can only be undecided). Every other entry's ranges all end below V,
so none can contain V: the entry is "not affected" and adds nothing to the answer. Upper bounds
are kept sorted per order, so the entries with a bound at or above V are one bisection away.

When V cannot be read in one of the orders the key's ranges use, its ranges there are undecided:
:meth:`CandidatePlan.candidates` then returns None and the caller evaluates every entry.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

from portside.security.advisories.orders import VersionKey, VersionOrder
from portside.security.advisories.versions import CompiledAffected, VersionKeys


@dataclass(frozen=True, slots=True)
class Bounds:
    """The closed-above intervals of one order: upper bounds sorted, with their entry index."""

    highs: tuple[VersionKey, ...]
    owners: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CandidatePlan:
    """Where to look among one index key's entries (given as their ``affected`` lists)."""

    bounds: dict[VersionOrder, Bounds]  # every order the key's ranges use, even without bounds
    listed: dict[str, tuple[int, ...]]  # explicit ``versions`` -> entries that list them
    always: frozenset[int]  # entries with an open-ended interval or a range without an order

    def candidates(self, version: str, keys: VersionKeys) -> list[int] | None:
        """The entries that can affect ``version`` or be undecided for it, in entry order;
        None when ``version`` is unreadable in one of the orders (evaluate every entry)."""
        found = set(self.always)
        found.update(self.listed.get(version, ()))
        for order, bounds in self.bounds.items():
            key = keys[order]
            if key is None:
                return None
            found.update(bounds.owners[bisect_left(bounds.highs, key) :])
        return sorted(found)


def plan(entries: Iterable[Iterable[CompiledAffected]]) -> CandidatePlan:
    """The plan for one key's entries, each given by its compiled ``affected`` list."""
    highs: dict[VersionOrder, list[tuple[VersionKey, int]]] = {}
    listed: dict[str, list[int]] = {}
    always: set[int] = set()
    for index, affected_list in enumerate(entries):
        for affected in affected_list:
            for version in affected.versions:
                listed.setdefault(version, []).append(index)
            for compiled in affected.ranges:
                if compiled.order is None:
                    always.add(index)
                    continue
                in_order = highs.setdefault(compiled.order, [])
                for _, high, _ in compiled.intervals:
                    if high is None:
                        always.add(index)
                    else:
                        in_order.append((high, index))
    bounds = {}
    for order, pairs in highs.items():
        pairs.sort(key=itemgetter(0))
        bounds[order] = Bounds(tuple(h for h, _ in pairs), tuple(i for _, i in pairs))
    return CandidatePlan(
        bounds,
        {version: tuple(dict.fromkeys(owners)) for version, owners in listed.items()},
        frozenset(always),
    )
