"""Named leases in the ``leases`` table: at most one holder at a time, on SQLite and PostgreSQL.

A holder renews its lease while it works; a lease that is not renewed expires, so a process
that dies frees it. No advisory locks (they do not survive transaction-pooling proxies).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from portside.db.conflict import conflict_insert
from portside.db.engine import Database
from portside.db.models import Lease


async def acquire(db: Database, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease; False when someone else holds it."""
    async with db.write() as session:
        await session.execute(
            conflict_insert(db.dialect, Lease)
            .values(name=name, holder=None, expires_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        result = await session.execute(
            update(Lease)
            .where(
                Lease.name == name,
                or_(Lease.holder.is_(None), Lease.holder == holder, Lease.expires_at <= now),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        return bool(getattr(result, "rowcount", 0))


async def release(db: Database, name: str, holder: str) -> None:
    async with db.write() as session:
        await session.execute(
            update(Lease).where(Lease.name == name, Lease.holder == holder).values(holder=None)
        )


def reap_expired_sync(
    session: Session,
    model: Any,
    *,
    now: datetime,
    max_attempts: int,
    waiting: str,
    message: str,
    **failed: Any,
) -> int:
    """Free the rows of a work queue whose claim expired (their worker died or hung): back to
    ``waiting``, or ``failed`` with ``message`` once they were tried ``max_attempts`` times.
    The table needs ``status``, ``lease_until``, ``worker``, ``attempts`` and ``error``."""
    expired = and_(model.status == "progress", model.lease_until < now)
    gave_up = session.execute(
        update(model)
        .where(expired, model.attempts >= max_attempts)
        .values(
            status="failed",
            worker=None,
            lease_until=None,
            error=func.coalesce(model.error + "; ", "") + message,  # keep the last error
            **failed,
        )
    )
    session.execute(
        update(model).where(expired).values(status=waiting, worker=None, lease_until=None)
    )
    return int(getattr(gave_up, "rowcount", 0) or 0)


async def reap_expired(
    session: AsyncSession,
    model: Any,
    *,
    now: datetime,
    max_attempts: int,
    waiting: str,
    message: str,
    **failed: Any,
) -> int:
    """:func:`reap_expired_sync` in an async session."""
    return await session.run_sync(
        lambda sync: reap_expired_sync(
            sync,
            model,
            now=now,
            max_attempts=max_attempts,
            waiting=waiting,
            message=message,
            **failed,
        )
    )


def take_sync(
    session: Session,
    model: Any,
    ids: Sequence[int],
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    order_by: Sequence[Any],
) -> list[Any]:
    """Claim the rows ``ids`` of a work queue for ``worker`` until ``now + lease`` (one more
    attempt each) and return them as the database now has them, in ``order_by`` order."""
    session.execute(
        update(model)
        .where(model.id.in_(ids))
        .values(
            status="progress", worker=worker, lease_until=now + lease, attempts=model.attempts + 1
        )
    )
    rows = session.scalars(
        select(model)
        .where(model.id.in_(ids))
        .order_by(*order_by)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


async def take(
    session: AsyncSession,
    model: Any,
    ids: Sequence[int],
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    order_by: Sequence[Any],
) -> list[Any]:
    """:func:`take_sync` in an async session."""
    return await session.run_sync(
        lambda sync: take_sync(
            sync, model, ids, worker=worker, now=now, lease=lease, order_by=order_by
        )
    )
