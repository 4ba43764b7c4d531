"""The overview the dashboard, ``/api/v1/summary`` and ``/api/v1/status`` show: counts and
findings by severity over what the principal may see; each background task's state and the
queues (global: for who reads everything)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts.policy import Principal
from portside.background import state
from portside.db.models import Repository, ScanTarget, Tag, TaskState
from portside.events import queue as event_queue
from portside.reads import visible
from portside.reads.counting import bounded_count, table_count
from portside.redact import redact_text
from portside.security.scanning import queue as scan_queue
from portside.security.severity import ORDER
from portside.settings import Settings


@dataclass(frozen=True)
class SeverityTotal:
    severity: str
    findings: int
    images: int


@dataclass(frozen=True)
class Counts:
    """What the index holds. ``scanned``: the tagged digests with a scan result."""

    repositories: int
    tags: int
    scanned: int
    severities: list[SeverityTotal]
    estimated: bool = False  # repositories or tags is the database's estimate ("about")

    @property
    def findings(self) -> dict[str, int]:
        return {total.severity: total.findings for total in self.severities}


def severity_totals(counts: Iterable[Mapping[str, Any] | None]) -> list[SeverityTotal]:
    """Findings and affected images per severity, worst first, summed over scan results."""
    findings = dict.fromkeys(ORDER, 0)
    images = dict.fromkeys(ORDER, 0)
    for one in counts:
        for level, n in (one or {}).items():
            key = level if level in findings else "Unknown"
            if isinstance(n, int) and n > 0:
                findings[key] += n
                images[key] += 1
    return [SeverityTotal(level, findings[level], images[level]) for level in ORDER]


ViewKey = tuple[bool, tuple[int, ...]] | None  # visible.cache_key: None, everything


class CountsCache:
    """A large index's counts, kept ``ttl`` seconds: they are estimates already, and summing
    the findings of every scanned digest on each view would not scale. A small index (exact
    counts) is always counted afresh. Kept per view (``key``: what a principal's counts
    depend on, :func:`portside.reads.visible.cache_key`), at most :attr:`views` of them. One
    per application (``app.state``)."""

    views = 256

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._kept: dict[ViewKey, tuple[float, Counts]] = {}

    def get(self, now: float, key: ViewKey = None) -> Counts | None:
        kept = self._kept.get(key)
        if kept is None or now - kept[0] >= self.ttl:
            return None
        return kept[1]

    def keep(self, counts: Counts, now: float, key: ViewKey = None) -> None:
        self._kept.pop(key, None)
        if not counts.estimated:
            return
        if len(self._kept) >= self.views:  # the oldest first (dicts keep insertion order)
            self._kept.pop(next(iter(self._kept)))
        self._kept[key] = (now, counts)


async def counts(
    session: AsyncSession, cache: CountsCache | None = None, *, principal: Principal
) -> Counts:
    """The counts of what the principal may see (from ``cache`` when it holds a large
    view's recent ones)."""
    now = time.monotonic()
    key = visible.cache_key(principal)
    if cache is not None and (kept := cache.get(now, key)) is not None:
        return kept
    found = await (_count(session) if key is None else _count_seen(session, principal))
    if cache is not None:
        cache.keep(found, now, key)
    return found


async def _count(session: AsyncSession) -> Counts:
    repositories, repositories_estimated = await table_count(session, Repository)
    tags, tags_estimated = await table_count(session, Tag)
    # Only digests some tag points at: an untagged digest's findings are nobody's problem.
    tagged = exists().where(Tag.digest == ScanTarget.digest)
    scanned = (
        await session.scalars(
            select(ScanTarget.counts).where(ScanTarget.scanned_at.is_not(None), tagged)
        )
    ).all()
    return Counts(
        repositories=repositories,
        tags=tags,
        scanned=len(scanned),
        severities=severity_totals(scanned),
        estimated=repositories_estimated or tags_estimated,
    )


async def _count_seen(session: AsyncSession, principal: Principal) -> Counts:
    """As :func:`_count`, over the repositories the principal may see: the repositories and
    tags counted up to :data:`~portside.reads.counting.BOUND` ("about" beyond), the scanned
    digests those tags point at."""
    repositories, repositories_bounded = await bounded_count(
        session, visible.only(select(Repository.id), visible.repositories(principal))
    )
    tags, tags_bounded = await bounded_count(
        session,
        select(Tag.id)
        .join(Repository, Repository.id == Tag.repository_id)
        .where(*_conditions(visible.repositories(principal))),
    )
    scanned = (
        await session.scalars(
            select(ScanTarget.counts).where(
                ScanTarget.scanned_at.is_not(None), *_conditions(visible.digests(principal))
            )
        )
    ).all()
    return Counts(
        repositories=repositories,
        tags=tags,
        scanned=len(scanned),
        severities=severity_totals(scanned),
        estimated=repositories_bounded or tags_bounded,
    )


def _conditions(condition: Any) -> list[Any]:
    return [] if condition is None else [condition]


@dataclass(frozen=True)
class TaskRow:
    name: str
    enabled: bool
    worker: str | None = None
    last_run_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_duration: float | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_run_at: datetime | None = None
    runs: int = 0
    details: dict[str, Any] | None = None
    queue_depth: int | None = None


def configured_tasks(settings: Settings) -> dict[str, bool]:
    """Each background task the settings know (``background.<name>.enabled``), in order."""
    found: dict[str, bool] = {}
    for name, section in settings.background.tasks().items():
        enabled = getattr(section, "enabled", None)
        if isinstance(enabled, bool):
            found[name] = enabled
    found["vulndb"] = settings.vulndb.enabled
    return found


def redacted(value: Any) -> Any:
    """A task's details or error with every URL's credentials masked (a registry error names
    its URL)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(v) for v in value]
    return value


def task_rows(
    configured: Mapping[str, bool],
    states: Mapping[str, TaskState],
    depths: Mapping[str, int],
) -> list[TaskRow]:
    """The configured tasks in order, then any other task a process recorded."""
    rows = []
    for name in [*configured, *sorted(set(states) - set(configured))]:
        found = states.get(name)
        enabled = configured.get(name, bool(found and found.enabled))
        depth = depths.get(name)
        if found is None:
            rows.append(TaskRow(name=name, enabled=enabled, queue_depth=depth))
            continue
        rows.append(
            TaskRow(
                name=name,
                enabled=enabled,
                worker=found.worker,
                last_run_at=found.last_started_at,
                last_finished_at=found.last_finished_at,
                last_duration=found.last_duration,
                last_error=redacted(found.last_error) if found.last_error else None,
                last_error_at=found.last_error_at,
                next_run_at=found.next_run_at,
                runs=found.runs or 0,
                details=redacted(found.details or {}),
                queue_depth=depth,
            )
        )
    return rows


@dataclass(frozen=True)
class Health:
    tasks: list[TaskRow]
    events: dict[str, int]  # registry events by status
    scans: dict[str, int]  # scan targets by status


async def health(session: AsyncSession, settings: Settings) -> Health:
    events = await event_queue.counts(session)
    scans = await scan_queue.depth(session)
    depths = {
        "events": events["fresh"] + events["progress"],
        "scan": scans["pending"] + scans["progress"],
    }
    states = await state.load_all(session)
    return Health(task_rows(configured_tasks(settings), states, depths), events, scans)


@dataclass(frozen=True)
class Dashboard:
    counts: Counts
    health: Health | None  # None: the principal does not read everything (global numbers)


async def dashboard(
    session: AsyncSession,
    settings: Settings,
    cache: CountsCache | None = None,
    *,
    principal: Principal,
) -> Dashboard:
    """The principal's counts; the tasks and the queues for who reads everything."""
    found = await counts(session, cache, principal=principal)
    if not principal.reads_everything:
        return Dashboard(found, None)
    return Dashboard(found, await health(session, settings))


async def ping(session: AsyncSession) -> None:
    """Raises unless the database answers."""
    await session.execute(text("SELECT 1"))
