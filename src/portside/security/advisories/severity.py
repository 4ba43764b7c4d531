"""An advisory's severity, normalized to Critical, High, Medium, Low, Negligible, Unknown.

Sources, first found wins:

1. a CVSS v3.x vector (``severity[{type: CVSS_V3}]``, then each ``affected[].severity``): the base
   score is computed from the vector with the ``cvss`` package (FIRST's formulas), then banded:
   9.0-10 Critical, 7.0-8.9 High, 4.0-6.9 Medium, 0.1-3.9 Low, 0 Negligible;
2. a CVSS v4.0 vector, scored and banded the same way;
3. a vendor's word: Ubuntu's priority (``severity[{type: Ubuntu, score: "medium"}]``), then
   ``database_specific.severity`` (GHSA's ``MODERATE``, Red Hat's ``Important``...), then the
   worst ``affected[].ecosystem_specific.severity`` / ``affected[].database_specific.severity``;
4. a CVSS v2 vector (v2 has no Critical band: 7.0-10 High);
5. otherwise Unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4, CVSSError  # type: ignore[import-untyped]

from portside.security.severity import Severity

__all__ = ["Severity", "SeverityInfo", "assess", "base_score", "from_score", "from_word"]


_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.NEGLIGIBLE,
    "unimportant": Severity.NEGLIGIBLE,
    "none": Severity.NEGLIGIBLE,
}
_CVSS_TYPES = {"CVSS_V3": CVSS3, "CVSS_V4": CVSS4, "CVSS_V2": CVSS2}


@dataclass(frozen=True)
class SeverityInfo:
    severity: Severity
    cvss_vector: str | None = None
    cvss_score: float | None = None


def from_score(score: float, *, cvss_version: int = 3) -> Severity:
    """Band a CVSS base score (v3/v4 bands; v2 has no Critical)."""
    if score >= 9.0 and cvss_version != 2:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    if score > 0.0:
        return Severity.LOW
    return Severity.NEGLIGIBLE


def from_word(word: str) -> Severity:
    """A vendor's severity word (any case): ``MODERATE`` -> Medium; unknown words -> Unknown."""
    return _WORDS.get(word.strip().lower(), Severity.UNKNOWN)


@lru_cache(maxsize=8192)
def base_score(kind: str, vector: str) -> float | None:
    """The base score of a ``CVSS_V2``/``CVSS_V3``/``CVSS_V4`` vector; None if invalid."""
    calculator = _CVSS_TYPES.get(kind)
    if calculator is None:
        return None
    try:
        score = calculator(vector.strip()).base_score
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
    return float(score) if isinstance(score, Decimal | float | int) else None


def _entries(value: object) -> Iterable[Mapping[str, object]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, Mapping))


def _severity_lists(record: Mapping[str, object]) -> list[Mapping[str, object]]:
    entries = list(_entries(record.get("severity")))
    for affected in _entries(record.get("affected")):
        entries.extend(_entries(affected.get("severity")))
    return entries


def _from_cvss(entries: list[Mapping[str, object]], kind: str) -> SeverityInfo | None:
    for entry in entries:
        vector = entry.get("score")
        if entry.get("type") != kind or not isinstance(vector, str):
            continue
        score = base_score(kind, vector)
        if score is not None:
            version = 2 if kind == "CVSS_V2" else 3
            return SeverityInfo(from_score(score, cvss_version=version), vector, score)
    return None


def _word_at(container: object) -> Severity:
    if isinstance(container, Mapping):
        word = container.get("severity")
        if isinstance(word, str):
            return from_word(word)
    return Severity.UNKNOWN


def _from_words(record: Mapping[str, object], entries: list[Mapping[str, object]]) -> Severity:
    for entry in entries:
        score = entry.get("score")
        if entry.get("type") == "Ubuntu" and isinstance(score, str):
            found = from_word(score)
            if found is not Severity.UNKNOWN:
                return found
    found = _word_at(record.get("database_specific"))
    if found is not Severity.UNKNOWN:
        return found
    per_package = [
        _word_at(affected.get(field))
        for affected in _entries(record.get("affected"))
        for field in ("ecosystem_specific", "database_specific")
    ]
    return max(per_package, key=lambda s: s.rank, default=Severity.UNKNOWN)


def assess(record: Mapping[str, object]) -> SeverityInfo:
    """The normalized severity of an OSV record (a JSON object), with the CVSS vector used."""
    entries = _severity_lists(record)
    for kind in ("CVSS_V3", "CVSS_V4"):
        info = _from_cvss(entries, kind)
        if info is not None:
            return info
    word = _from_words(record, entries)
    if word is not Severity.UNKNOWN:
        return SeverityInfo(word)
    return _from_cvss(entries, "CVSS_V2") or SeverityInfo(Severity.UNKNOWN)
