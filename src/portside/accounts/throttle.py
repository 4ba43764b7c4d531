"""Login throttling: at most ``max_failures`` failed logins per key in a fixed window of
``window`` seconds, per user name (``user:NAME``) and per client address (``addr:IP``); over
it, logins are refused (429, ``Retry-After``) until the window ends, whatever the password.
A success clears the user's key (not the address's: one good account must not reopen an
address that is guessing others).

The decisions are pure functions of (failures, window start, now, limits); the SQL on
``login_throttle`` is below them. Shared by the login page and the registry's token server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.conflict import conflict_insert
from portside.db.models import LoginThrottle
from portside.settings import SessionSettings

MAX_KEY = 320  # login_throttle.key


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window: float  # seconds

    @classmethod
    def of(cls, settings: SessionSettings) -> Limits:
        return cls(max_failures=settings.max_failures, window=settings.throttle_window)


@dataclass(frozen=True)
class Count:
    failures: int
    window_start: datetime


def window_over(count: Count, now: datetime, limits: Limits) -> bool:
    return now >= count.window_start + timedelta(seconds=limits.window)


def retry_after(count: Count | None, now: datetime, limits: Limits) -> float | None:
    """Seconds until this key may try again, or None when it may try now."""
    if count is None or window_over(count, now, limits) or count.failures < limits.max_failures:
        return None
    end = count.window_start + timedelta(seconds=limits.window)
    return max((end - now).total_seconds(), 0.0)


def after_failure(count: Count | None, now: datetime, limits: Limits) -> Count:
    """The count once one more failure is noted: a new window when the last one is over."""
    if count is None or window_over(count, now, limits):
        return Count(failures=1, window_start=now)
    return Count(failures=count.failures + 1, window_start=count.window_start)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def user_key(name: str) -> str:
    return ("user:" + name)[:MAX_KEY]


def address_key(address: str | None) -> str:
    return ("addr:" + (address or "unknown"))[:MAX_KEY]


def keys(user: str | None, address: str | None) -> list[str]:
    """The throttle keys of a login attempt: its client address and its user name."""
    return [address_key(address)] + ([user_key(user)] if user else [])


# -- SQL ---------------------------------------------------------------------------------------
async def blocked_for(
    session: AsyncSession, keys: Iterable[str], now: datetime, limits: Limits
) -> float | None:
    """The longest wait any of the keys must sit out, or None when none is throttled."""
    rows = await session.execute(
        select(LoginThrottle.key, LoginThrottle.failures, LoginThrottle.window_start).where(
            LoginThrottle.key.in_(sorted(set(keys)))
        )
    )
    waits = [
        wait
        for _, failures, start in rows
        if (wait := retry_after(Count(failures, start), now, limits)) is not None
    ]
    return max(waits) if waits else None


async def note_failure(
    session: AsyncSession, keys: Iterable[str], now: datetime, limits: Limits
) -> None:
    """One more failure for each key (in a write session; the rows are locked on PostgreSQL
    so that concurrent failures all count). Rows whose window is over go at the same time, so
    the table holds at most one window's worth of keys."""
    await forget_old(session, now, limits)
    dialect = session.get_bind().dialect.name
    for key in sorted(set(keys)):
        await session.execute(
            conflict_insert(dialect, LoginThrottle)
            .values(key=key, window_start=now, failures=0)
            .on_conflict_do_nothing()
        )
        row = await session.scalar(
            select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
        )
        assert row is not None
        counted = after_failure(
            Count(row.failures, row.window_start) if row.failures else None, now, limits
        )
        row.failures, row.window_start = counted.failures, counted.window_start
    await session.flush()


async def clear(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


async def forget_old(session: AsyncSession, now: datetime, limits: Limits) -> int:
    """Drop the rows whose window is over (they no longer throttle anything)."""
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_start < now - timedelta(seconds=limits.window)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
