"""Login throttling: after ``max_failures`` failed logins in ``throttle_window`` seconds, a
user name (``user:NAME``) or a client address (``addr:IP``) is refused (429) until the window
ends. The decision is pure (:func:`blocked_for`, :func:`after_failure`); the counts live in the
``login_throttle`` table, so every worker shares them. The pages' login and the registry's
token server use the same limits (``auth.session``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.conflict import conflict_insert
from portside.db.models import LoginThrottle
from portside.settings import SessionSettings

MAX_KEY = 320


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window: timedelta

    @classmethod
    def of(cls, settings: SessionSettings) -> Limits:
        return cls(settings.max_failures, timedelta(seconds=settings.throttle_window))


def keys(user: str | None, address: str | None) -> list[str]:
    """The throttle keys of a login attempt: its user name and its client address."""
    found = []
    if user:
        found.append(f"user:{user}"[:MAX_KEY])
    if address:
        found.append(f"addr:{address}"[:MAX_KEY])
    return found


def blocked_for(
    window_start: datetime, failures: int, now: datetime, limits: Limits
) -> float | None:
    """Seconds until a key with these counts may try again; None if it may now."""
    ends = window_start + limits.window
    if failures >= limits.max_failures and now < ends:
        return (ends - now).total_seconds()
    return None


def after_failure(
    window_start: datetime | None, failures: int, now: datetime, limits: Limits
) -> tuple[datetime, int]:
    """The counts after one more failure: a new window when the last one is over."""
    if window_start is None or now >= window_start + limits.window:
        return now, 1
    return window_start, failures + 1


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


async def blocked(
    session: AsyncSession, throttle_keys: list[str], now: datetime, limits: Limits
) -> float | None:
    """Seconds the longest-blocked of these keys must still wait; None if none is blocked."""
    if not throttle_keys:
        return None
    rows = await session.execute(
        select(LoginThrottle.window_start, LoginThrottle.failures).where(
            LoginThrottle.key.in_(throttle_keys)
        )
    )
    waits = [
        wait
        for start, failures in rows
        if (wait := blocked_for(start, failures, now, limits)) is not None
    ]
    return max(waits) if waits else None


async def failed(
    session: AsyncSession, throttle_keys: list[str], now: datetime, limits: Limits
) -> None:
    """Count a failed login against every key (in the caller's write session)."""
    if not throttle_keys:
        return
    dialect = session.get_bind().dialect.name
    for key in throttle_keys:
        await session.execute(
            conflict_insert(dialect, LoginThrottle)
            .values(key=key, window_start=now, failures=0)
            .on_conflict_do_nothing()
        )
        row = await session.get(LoginThrottle, key, populate_existing=True)
        assert row is not None
        row.window_start, row.failures = after_failure(row.window_start, row.failures, now, limits)
    await session.flush()


async def succeeded(session: AsyncSession, user: str) -> None:
    """A successful login forgets the user's failures (not its address's)."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys(user, None))))
