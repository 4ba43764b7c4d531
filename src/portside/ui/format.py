"""How values are shown on the pages: pure functions of data (and "now"), no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from portside.index.vocabulary import TagScanState
from portside.security.scanning.verdict import INCOMPLETE, PASSED, Verdict
from portside.security.severity import ORDER, worst

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int | None) -> str:
    """``1536`` → ``1.5 KiB``; unknown → ``""``."""
    if size is None or size < 0:
        return ""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def short_digest(digest: str | None) -> str:
    """``sha256:0123456789abcdef...`` → ``sha256:0123456789ab``."""
    if not digest:
        return ""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}" if hexpart else digest[:19]


def platforms(entries: Iterable[Mapping[str, Any]] | None) -> str:
    """``[{"os": "linux", "architecture": "arm64", "variant": "v8"}]`` → ``linux/arm64/v8``."""
    shown = []
    for entry in entries or []:
        parts = [entry.get("os"), entry.get("architecture"), entry.get("variant")]
        text = "/".join(str(p) for p in parts if p)
        if text and text not in shown:
            shown.append(text)
    return ", ".join(shown)


def ago(when: datetime | None, now: datetime) -> str:
    """A short relative time: ``just now``, ``5 min ago``, ``in 3 h``, ``2 d ago``."""
    if when is None:
        return ""
    seconds = (now - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 5:
        return "just now"
    for limit, size, unit in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "h")):
        if seconds < limit:
            amount = int(seconds // size)
            return f"in {amount} {unit}" if future else f"{amount} {unit} ago"
    days = int(seconds // 86400)
    return f"in {days} d" if future else f"{days} d ago"


def duration(seconds: float | None) -> str:
    """``0.04`` → ``40 ms``; ``1.84`` → ``1.8 s``; ``125`` → ``2 min 5 s``."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s"


def timestamp(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else ""


def safe_link(url: object) -> str | None:
    """The URL when it may become an ``<a href>``: http(s) with a host, no spaces or controls.

    Anything else (``javascript:``, ``data:``, relative paths, odd whitespace) is shown as
    text only.
    """
    if not isinstance(url, str) or not url or len(url) > 2048:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def severity_class(severity: str | None) -> str:
    """The CSS class of a severity badge (``sev-critical``...), ``sev-unknown`` otherwise."""
    level = severity if severity in ORDER else "Unknown"
    return "sev-" + level.lower()


@dataclass(frozen=True)
class ScanBadge:
    """What a tag's scan column shows, as Portus did."""

    label: str
    css: str
    counts: list[tuple[str, int]]  # nonzero severities, worst first
    gaps: tuple[str, ...] = ()  # what the scan could not check (its verdict's gaps)


def scan_badge(
    state: str | None, counts: Mapping[str, int] | None, verdict: Verdict | None = None
) -> ScanBadge:
    """A tag's scan as shown. With its ``verdict``, "Passed" only when the verdict says so
    (every ecosystem checked against fresh data), "Incomplete" with what is missing else."""
    if state == TagScanState.IN_PROGRESS:
        return ScanBadge("In progress", "state-progress", [])
    if state == TagScanState.FAILED:
        return ScanBadge("Failed", "state-failed", [])
    if state != TagScanState.DONE:
        return ScanBadge("Pending", "state-pending", [])
    if verdict is not None and verdict.counts is not None:
        counts = verdict.counts  # findings an exception allows left out
    found = [(level, int(counts[level])) for level in ORDER if counts and counts.get(level)]
    gaps = verdict.gaps if verdict is not None else ()
    if not found:
        if gaps:
            return ScanBadge(INCOMPLETE, "state-incomplete", [], gaps)
        return ScanBadge(PASSED, "state-passed", [])
    level = worst(dict(found)) or "Unknown"
    return ScanBadge(level, severity_class(level), found, gaps)


@dataclass(frozen=True)
class TaskHealth:
    label: str  # ok, failing, late, never run, disabled
    css: str


def task_health(
    *,
    enabled: bool,
    last_finished_at: datetime | None,
    last_error_at: datetime | None,
    next_run_at: datetime | None,
    now: datetime,
    grace: float = 300.0,
) -> TaskHealth:
    """``failing`` when the last run ended in an error; ``late`` when the next run is
    ``grace`` seconds overdue; ``never run``; ``disabled``; otherwise ``ok``."""
    if not enabled:
        return TaskHealth("disabled", "state-pending")
    if last_finished_at is None:
        return TaskHealth("never run", "state-pending")
    if last_error_at is not None and last_error_at >= last_finished_at:
        return TaskHealth("failing", "state-failed")
    if next_run_at is not None and (now - next_run_at).total_seconds() > grace:
        return TaskHealth("late", "state-progress")
    return TaskHealth("ok", "state-passed")


@dataclass(frozen=True)
class Pager:
    """A page of a list as the pager shows it: its rows' range when asked by number, the
    total ("about" when estimated) and the cursors of its neighbours."""

    per_page: int
    shown: int
    total: int | None  # None: not counted
    estimated: bool = False
    start: int | None = None  # the first row's position (from 1); None: not known
    page: int | None = None
    next: str | None = None
    previous: str | None = None

    @property
    def first(self) -> int | None:
        if self.start is None:
            return None
        return self.start if self.shown else 0

    @property
    def last(self) -> int | None:
        return None if self.start is None else self.start + self.shown - 1

    @property
    def has_previous(self) -> bool:
        return self.previous is not None

    @property
    def has_next(self) -> bool:
        return self.next is not None


def page_number(raw: str | None, *, maximum: int = 1_000_000) -> int:
    """A ``page`` query parameter, forgiving: anything that is not a positive number is 1."""
    if raw is None or not raw.isdigit() or len(raw) > 9:
        return 1
    return min(max(int(raw), 1), maximum)


def row_id(raw: str) -> int | None:
    """A path's id, or None when it cannot be one (so the page answers 404, not 422)."""
    if not raw.isdigit() or len(raw) > 15:
        return None
    return int(raw)
