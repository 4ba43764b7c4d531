"""The scan queue in ``scan_targets``: one row per manifest digest, all its SQL here.

Tags sharing a digest share one target. New digests come first (priority), a claimed target
carries a lease (a killed worker's scan is picked up again), failures back off exponentially,
and several workers share the queue on PostgreSQL (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.conflict import conflict_insert
from portside.db.leases import reap_expired, take
from portside.db.models import Repository, ScanTarget, Tag
from portside.index import store
from portside.index.vocabulary import ActivityKind, ScanTargetStatus, TagScanState
from portside.security import findings_store

NEW_DIGEST_PRIORITY = 100
RESCAN_PRIORITY = 0


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return conflict_insert(dialect, ScanTarget)


async def enqueue_new(session: AsyncSession, now: datetime) -> int:
    """A pending target for every tagged digest that has none yet; returns how many."""
    source = (
        select(
            Tag.digest,
            func.min(Repository.name),
            literal(ScanTargetStatus.PENDING.value),
            literal(NEW_DIGEST_PRIORITY),
            literal(0),
            literal(now, ScanTarget.available_at.type),
            literal(now, ScanTarget.created_at.type),
        )
        .join(Repository, Repository.id == Tag.repository_id)
        .where(~exists().where(ScanTarget.digest == Tag.digest))
        .group_by(Tag.digest)
    )
    stmt = (
        _insert(session)
        .from_select(
            [
                "digest",
                "repository",
                "status",
                "priority",
                "attempts",
                "available_at",
                "created_at",
            ],
            source,
        )
        .on_conflict_do_nothing()
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def claim(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    max_attempts: int,
) -> list[ScanTarget]:
    await reap_expired(
        session,
        ScanTarget,
        now=now,
        max_attempts=max_attempts,
        waiting=ScanTargetStatus.PENDING,
        message="lease expired too many times: a worker died or hung while scanning it",
    )
    order = [ScanTarget.priority.desc(), ScanTarget.id.desc()]
    ids = (
        await session.scalars(
            select(ScanTarget.id)
            .where(ScanTarget.status == ScanTargetStatus.PENDING, ScanTarget.available_at <= now)
            .order_by(*order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not ids:
        return []
    targets: list[ScanTarget] = await take(
        session, ScanTarget, ids, worker=worker, now=now, lease=lease, order_by=order
    )
    await set_tag_state(session, [t.digest for t in targets], TagScanState.IN_PROGRESS)
    return targets


def tag_state(target_status: str | None) -> TagScanState:
    """A tag's scan state, given its digest's scan target (None: no target yet)."""
    if target_status is None:
        return TagScanState.PENDING
    if target_status == ScanTargetStatus.PROGRESS:
        return TagScanState.IN_PROGRESS
    return TagScanState(target_status)


async def follow_digests(session: AsyncSession, digests: Iterable[str]) -> None:
    """Set every tag on these digests to its digest's scan state (:func:`tag_state`, in SQL):
    whatever points a tag at a digest calls this, so a retag onto a scanned digest shows
    that scan at once, never "pending" for good."""
    digests = sorted(set(digests))
    state = case(
        (ScanTarget.status == ScanTargetStatus.PROGRESS, literal(TagScanState.IN_PROGRESS.value)),
        else_=ScanTarget.status,
    )
    target_state = select(state).where(ScanTarget.digest == Tag.digest).scalar_subquery()
    for start in range(0, len(digests), 500):
        await session.execute(
            update(Tag)
            .where(Tag.digest.in_(digests[start : start + 500]))
            .values(scan_state=func.coalesce(target_state, literal(TagScanState.PENDING.value)))
            .execution_options(synchronize_session=False)
        )


async def set_tag_state(session: AsyncSession, digests: Iterable[str], state: TagScanState) -> None:
    digests = list(digests)
    if digests:
        await session.execute(update(Tag).where(Tag.digest.in_(digests)).values(scan_state=state))


async def complete(
    session: AsyncSession,
    target_id: int,
    *,
    worker: str,
    now: datetime,
    os: dict[str, Any] | None,
    packages: list[dict[str, Any]],
    findings: list[dict[str, Any]],
    counts: dict[str, int],
) -> bool:
    result = await session.execute(
        update(ScanTarget)
        .where(
            ScanTarget.id == target_id,
            ScanTarget.worker == worker,
            ScanTarget.status == ScanTargetStatus.PROGRESS,
        )
        .values(
            status=ScanTargetStatus.DONE,
            worker=None,
            lease_until=None,
            error=None,
            os=os,
            packages=packages,
            findings=findings,
            counts=counts,
            scanned_at=now,
            matched_at=now,
        )
        .returning(ScanTarget.digest)
    )
    digest = result.scalar_one_or_none()
    if digest is not None:
        await findings_store.replace(session, [(target_id, [findings])], now)
        await set_tag_state(session, [digest], TagScanState.DONE)
        await _record_completed(session, digest, counts, now)
    return digest is not None


async def _record_completed(
    session: AsyncSession, digest: str, counts: dict[str, int], now: datetime
) -> None:
    for repository, tag in await store.tags_on_digest(session, digest):
        store.record(
            session,
            ActivityKind.SCAN_COMPLETED,
            now,
            actor="portside-scanner",
            repository=repository,
            tag=tag,
            digest=digest,
            severity_counts=counts,
        )


async def retry_or_fail(
    session: AsyncSession,
    target: ScanTarget,
    *,
    worker: str,
    now: datetime,
    error: str,
    delay: timedelta | None,
) -> None:
    """Back off (``delay``) or, with no delay, mark the scan failed with its error."""
    status = ScanTargetStatus.PENDING if delay is not None else ScanTargetStatus.FAILED
    await session.execute(
        update(ScanTarget)
        .where(ScanTarget.id == target.id, ScanTarget.worker == worker)
        .values(
            status=status,
            worker=None,
            lease_until=None,
            error=error,
            available_at=now + delay if delay is not None else target.available_at,
        )
    )
    await set_tag_state(
        session,
        [target.digest],
        TagScanState.PENDING if delay is not None else TagScanState.FAILED,
    )


async def request_rescan(session: AsyncSession, digests: list[str] | None, now: datetime) -> int:
    """Scan again (all targets, or these digests), after the new pushes."""
    stmt = update(ScanTarget).where(ScanTarget.status != ScanTargetStatus.PROGRESS)
    if digests is not None:
        stmt = stmt.where(ScanTarget.digest.in_(digests))
    result = await session.execute(
        stmt.values(
            status=ScanTargetStatus.PENDING,
            priority=RESCAN_PRIORITY,
            attempts=0,
            available_at=now,
            error=None,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def has_work(session: AsyncSession, now: datetime) -> bool:
    """Whether a run could enqueue or claim anything: a tagged digest without a target, a
    pending target that is due, an expired lease (a read, so an idle worker takes no write
    lock)."""
    untargeted = select(Tag.id).where(~exists().where(ScanTarget.digest == Tag.digest))
    due = select(ScanTarget.id).where(
        or_(
            and_(ScanTarget.status == ScanTargetStatus.PENDING, ScanTarget.available_at <= now),
            and_(ScanTarget.status == ScanTargetStatus.PROGRESS, ScanTarget.lease_until < now),
        )
    )
    for probe in (due, untargeted):
        if await session.scalar(probe.limit(1)) is not None:
            return True
    return False


async def depth(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(ScanTarget.status, func.count()).group_by(ScanTarget.status)
    )
    found: dict[str, int] = {status.value: 0 for status in ScanTargetStatus}
    found.update({status: int(n) for status, n in rows.all()})
    return found
