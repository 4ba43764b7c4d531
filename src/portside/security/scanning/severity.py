"""Severity levels in Portus's order, worst first, and counting them (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

ORDER = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")


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
