"""Secrets Portside generates once and keeps in the database (``server_keys``), so that every
worker uses the same: the first to ask creates it, the others read what won."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select

from portside.db.conflict import conflict_insert
from portside.db.engine import Database
from portside.db.models import ServerKey


async def kept(db: Database, name: str, make: Callable[[], str]) -> str:
    """The kept value called ``name``, made by ``make`` (and stored) the first time."""
    async with db.read() as session:
        value = await session.scalar(select(ServerKey.value).where(ServerKey.name == name))
    if value is not None:
        return value
    async with db.write() as session:
        dialect = session.get_bind().dialect.name
        await session.execute(
            conflict_insert(dialect, ServerKey)
            .values(name=name, value=make(), created_at=datetime.now(UTC))
            .on_conflict_do_nothing()
        )
        stored = await session.scalar(select(ServerKey.value).where(ServerKey.name == name))
    assert stored is not None
    return stored
