"""Severity levels in Portus's order, worst first, and counting them (pure).

The one severity type of Portside: the advisories' assessment
(:mod:`portside.security.advisories.severity`) yields a :class:`Severity`; findings, counts,
the gate, the pages and the API carry its word (``"High"``) and order by :data:`ORDER`.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping


class Severity(enum.StrEnum):
    CRITICAL = "Critical"
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"
    NEGLIGIBLE = "Negligible"
    UNKNOWN = "Unknown"

    @property
    def rank(self) -> int:
        """Higher is worse: Critical 5 ... Negligible 1, Unknown 0."""
        return _RANKS[self]


_RANKS = {s: 5 - i for i, s in enumerate(Severity)}
_RANKS[Severity.UNKNOWN] = 0

ORDER: tuple[str, ...] = tuple(level.value for level in Severity)
"""The levels' words, worst first (Unknown last)."""


def counts(severities: Iterable[str]) -> dict[str, int]:
    """How many of each level, worst first, levels not found left out (an unknown word counts
    as Unknown)."""
    return counts_from(Counter(severities))


def counts_from(tally: Mapping[str, int]) -> dict[str, int]:
    """:func:`counts` from a tally of the severity words (a re-match counts a thousand images
    of hundreds of findings: ``Counter`` tallies in C)."""
    found = dict.fromkeys(ORDER, 0)
    for severity, count in tally.items():
        found[severity if severity in found else "Unknown"] += count
    return {k: v for k, v in found.items() if v}


def worst(severity_counts: dict[str, int]) -> str | None:
    return next((level for level in ORDER if severity_counts.get(level)), None)
