"""The pages' reads: one module holds the UI's SQL, each function one page's data.

Every list is one LIMITed query per page. The repository list carries its total in the same
query (``count(*) OVER ()``), so a page of 50 out of 10,000 repositories costs one statement;
the activity timeline is not counted at all (it only grows): it asks for one row more than it
shows to know whether an older page exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.background import state
from portside.db.models import Activity, Namespace, Repository, ScanTarget, Tag
from portside.events import queue as event_queue
from portside.redact import redact_text
from portside.security.scanning import queue as scan_queue
from portside.security.severity import ORDER
from portside.settings import Settings
from portside.ui.format import Pager


def like_pattern(text: str) -> str:
    """``q`` as a LIKE "contains" pattern, its wildcards escaped (with ``escape="\\"``)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# --- dashboard ---------------------------------------------------------------------------


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


@dataclass(frozen=True)
class SeverityTotal:
    severity: str
    findings: int
    images: int


@dataclass(frozen=True)
class Dashboard:
    repositories: int
    tags: int
    scanned: int
    tasks: list[TaskRow]
    events: dict[str, int]
    scans: dict[str, int]
    severities: list[SeverityTotal]


def configured_tasks(settings: Settings) -> dict[str, bool]:
    """Each background task the settings know (``background.<name>.enabled``), in order."""
    found: dict[str, bool] = {}
    for name, section in settings.background.tasks().items():
        enabled = getattr(section, "enabled", None)
        if isinstance(enabled, bool):
            found[name] = enabled
    return found


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


async def dashboard(session: AsyncSession, settings: Settings) -> Dashboard:
    repositories = await session.scalar(select(func.count()).select_from(Repository))
    tags = await session.scalar(select(func.count()).select_from(Tag))
    scanned = await session.scalar(
        select(func.count()).select_from(ScanTarget).where(ScanTarget.scanned_at.is_not(None))
    )
    # Only digests some tag points at: an untagged digest's findings are nobody's problem.
    tagged = exists().where(Tag.digest == ScanTarget.digest)
    counts = (await session.scalars(select(ScanTarget.counts).where(tagged))).all()
    states = await state.load_all(session)
    configured = configured_tasks(settings)
    tasks = []
    for name in [*configured, *sorted(set(states) - set(configured))]:
        found = states.get(name)
        enabled = configured.get(name, bool(found and found.enabled))
        if found is None:
            tasks.append(TaskRow(name=name, enabled=enabled))
            continue
        tasks.append(
            TaskRow(
                name=name,
                enabled=enabled,
                worker=found.worker,
                last_run_at=found.last_started_at,
                last_finished_at=found.last_finished_at,
                last_duration=found.last_duration,
                last_error=redact_text(found.last_error) if found.last_error else None,
                last_error_at=found.last_error_at,
                next_run_at=found.next_run_at,
                runs=found.runs or 0,
            )
        )
    return Dashboard(
        repositories=int(repositories or 0),
        tags=int(tags or 0),
        scanned=int(scanned or 0),
        tasks=tasks,
        events=await event_queue.counts(session),
        scans=await scan_queue.depth(session),
        severities=severity_totals(counts),
    )


# --- repositories ------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryRow:
    id: int
    name: str
    namespace: str
    tag_count: int
    updated_at: datetime


@dataclass(frozen=True)
class RepositoryList:
    rows: list[RepositoryRow]
    pager: Pager


async def repositories(
    session: AsyncSession, *, q: str, page: int, per_page: int
) -> RepositoryList:
    """Repositories by name, ``q`` a "name contains" filter: one query per page carries the
    page and the total; the tag counts are looked up for the page's rows only."""
    total = func.count().over().label("total")
    inner = select(
        Repository.id,
        Repository.name,
        Repository.namespace_id,
        Repository.updated_at,
        total,
    )
    if q:
        inner = inner.where(Repository.name.like(like_pattern(q), escape="\\"))
    window = (
        inner.order_by(Repository.name, Repository.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery()
    )
    tag_count = select(func.count(Tag.id)).where(Tag.repository_id == window.c.id)
    rows = (
        await session.execute(
            select(window, Namespace.name.label("namespace"), tag_count.scalar_subquery())
            .join(Namespace, Namespace.id == window.c.namespace_id)
            .order_by(window.c.name, window.c.id)
        )
    ).all()
    if rows:
        counted = int(rows[0].total)
    else:  # past the last page (or nothing at all): count to say how many there are
        count = select(func.count()).select_from(Repository)
        if q:
            count = count.where(Repository.name.like(like_pattern(q), escape="\\"))
        counted = int(await session.scalar(count) or 0)
    items = [
        RepositoryRow(
            id=row.id,
            name=row.name,
            namespace=row.namespace,
            tag_count=int(row[-1] or 0),
            updated_at=row.updated_at,
        )
        for row in rows
    ]
    return RepositoryList(items, Pager(page, per_page, counted, len(items)))


@dataclass(frozen=True)
class TagRow:
    tag: Tag
    counts: dict[str, int]


@dataclass(frozen=True)
class RepositoryDetail:
    repository: Repository
    namespace: str
    tags: list[TagRow]
    pager: Pager


async def repository(
    session: AsyncSession, repository_id: int, *, page: int, per_page: int
) -> RepositoryDetail | None:
    found = (
        await session.execute(
            select(Repository, Namespace.name)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(Repository.id == repository_id)
        )
    ).first()
    if found is None:
        return None
    repo, namespace = found
    rows = (
        await session.execute(
            select(Tag, ScanTarget.counts)
            .outerjoin(ScanTarget, ScanTarget.digest == Tag.digest)
            .where(Tag.repository_id == repository_id)
            .order_by(Tag.name, Tag.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    ).all()
    total = await session.scalar(
        select(func.count()).select_from(Tag).where(Tag.repository_id == repository_id)
    )
    tags = [TagRow(tag, dict(counts or {})) for tag, counts in rows]
    return RepositoryDetail(
        repo, namespace, tags, Pager(page, per_page, int(total or 0), len(tags))
    )


# --- one tag ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagDetail:
    tag: Tag
    repository: Repository
    target: ScanTarget | None
    others: list[tuple[int, str, str]] = field(default_factory=list)  # same digest elsewhere


async def tag(session: AsyncSession, tag_id: int) -> TagDetail | None:
    found = (
        await session.execute(
            select(Tag, Repository, ScanTarget)
            .join(Repository, Repository.id == Tag.repository_id)
            .outerjoin(ScanTarget, ScanTarget.digest == Tag.digest)
            .where(Tag.id == tag_id)
        )
    ).first()
    if found is None:
        return None
    tag_row, repo, target = found
    others = (
        await session.execute(
            select(Tag.id, Repository.name, Tag.name)
            .join(Repository, Repository.id == Tag.repository_id)
            .where(Tag.digest == tag_row.digest, Tag.id != tag_row.id)
            .order_by(Repository.name, Tag.name)
            .limit(20)
        )
    ).all()
    return TagDetail(tag_row, repo, target, [(i, r, t) for i, r, t in others])


# --- activities and events ---------------------------------------------------------------


@dataclass(frozen=True)
class ActivityList:
    rows: list[Activity]
    pager: Pager


async def activities(session: AsyncSession, *, page: int, per_page: int) -> ActivityList:
    """Newest first, through the ``at`` index; one row more than a page says whether an
    older page exists."""
    rows = list(
        (
            await session.scalars(
                select(Activity)
                .order_by(Activity.at.desc(), Activity.id.desc())
                .limit(per_page + 1)
                .offset((page - 1) * per_page)
            )
        ).all()
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    return ActivityList(rows, Pager(page, per_page, None, len(rows), has_next_page=more))


@dataclass(frozen=True)
class EventList:
    rows: list[Any]
    pager: Pager
    counts: dict[str, int]


async def events(
    session: AsyncSession, *, status: str | None, page: int, per_page: int
) -> EventList:
    rows, total = await event_queue.page(
        session, status=status, offset=(page - 1) * per_page, limit=per_page
    )
    counts = await event_queue.counts(session)
    return EventList(rows, Pager(page, per_page, total, len(rows)), counts)
