"""Counting without scanning millions of rows: exact on small tables, the planner's estimate
(``pg_class.reltuples``, kept by ANALYZE and autovacuum) on large PostgreSQL tables, and
filtered counts bounded; the caller labels an estimate "about"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

ESTIMATE_ABOVE = 50_000  # rows: below this an exact count costs a few milliseconds
BOUND = 10_000  # a filtered count stops here ("more than 10,000")


def like_pattern(text_: str) -> str:
    """``text_`` as a LIKE "contains" pattern, its wildcards escaped (with ``escape="\\"``)."""
    return "%" + text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def table_count(session: AsyncSession, model: type[DeclarativeBase]) -> tuple[int, bool]:
    """The number of rows of ``model``'s table, and whether it is an estimate."""
    if session.get_bind().dialect.name == "postgresql":
        estimate = await session.scalar(
            text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"),
            {"name": model.__tablename__},
        )
        if estimate is not None and estimate >= ESTIMATE_ABOVE:
            return int(estimate), True
    return int(await session.scalar(select(func.count()).select_from(model)) or 0), False


async def bounded_count(session: AsyncSession, query: Select[Any]) -> tuple[int, bool]:
    """How many rows ``query`` (a select of one column) gives, up to :data:`BOUND` (then
    ``(BOUND, True)``)."""
    inner = query.order_by(None).limit(BOUND + 1).subquery()
    found = int(await session.scalar(select(func.count()).select_from(inner)) or 0)
    return (BOUND, True) if found > BOUND else (found, False)
