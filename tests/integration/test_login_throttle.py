"""The login throttle's SQL on both databases: counting per key, the window's end, a reset,
forgetting windows that are over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portside.accounts import throttle
from portside.db.engine import Database
from portside.db.models import LoginThrottle

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LIMITS = throttle.Limits(max_failures=3, window=60)
USER, ADDRESS = throttle.user_key("alice"), throttle.address_key("192.0.2.7")


async def fail(db: Database, keys: list[str], at: datetime) -> None:
    async with db.write() as session:
        await throttle.note_failure(session, keys, at, LIMITS)


async def blocked(db: Database, keys: list[str], at: datetime) -> float | None:
    async with db.read() as session:
        return await throttle.blocked_for(session, keys, at, LIMITS)


@pytest.mark.asyncio
async def test_failures_count_per_key_until_the_window_ends(db: Database) -> None:
    for n in range(3):
        assert await blocked(db, [USER, ADDRESS], NOW + timedelta(seconds=n)) is None
        await fail(db, [USER, ADDRESS], NOW + timedelta(seconds=n))
    assert await blocked(db, [USER], NOW + timedelta(seconds=10)) == 50.0
    assert await blocked(db, [ADDRESS, throttle.user_key("bob")], NOW) == 60.0
    assert await blocked(db, [throttle.user_key("bob")], NOW) is None
    assert await blocked(db, [USER], NOW + timedelta(seconds=60)) is None
    # A failure after the window starts a new count of one.
    await fail(db, [USER], NOW + timedelta(seconds=61))
    assert await blocked(db, [USER], NOW + timedelta(seconds=62)) is None


@pytest.mark.asyncio
async def test_a_reset_clears_one_key_and_old_windows_are_forgotten(db: Database) -> None:
    for _ in range(3):
        await fail(db, [USER, ADDRESS], NOW)
    async with db.write() as session:
        await throttle.clear(session, USER)
    assert await blocked(db, [USER], NOW) is None
    assert await blocked(db, [ADDRESS], NOW) is not None
    await fail(db, [throttle.user_key("bob")], NOW + timedelta(seconds=120))
    async with db.read() as session:
        keys = set(await session.scalars(select(LoginThrottle.key)))
    assert keys == {"user:bob"}  # the address's window was over: its row is gone
