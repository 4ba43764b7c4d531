"""Named leases in the ``leases`` table: at most one holder at a time, on SQLite and PostgreSQL.

A holder renews its lease while it works; a lease that is not renewed expires, so a process
that dies frees it. No advisory locks (they do not survive transaction-pooling proxies).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite

from portside.db.engine import Database
from portside.db.models import Lease


async def acquire(db: Database, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease; False when someone else holds it."""
    async with db.write() as session:
        insert = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        await session.execute(
            insert(Lease)
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
