"""Severity levels in Portus's order, worst first, and counting them (pure)."""

from __future__ import annotations

from collections.abc import Iterable

ORDER = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")


def counts(severities: Iterable[str]) -> dict[str, int]:
    found = dict.fromkeys(ORDER, 0)
    for severity in severities:
        found[severity if severity in found else "Unknown"] += 1
    return {k: v for k, v in found.items() if v}


def worst(severity_counts: dict[str, int]) -> str | None:
    return next((level for level in ORDER if severity_counts.get(level)), None)
