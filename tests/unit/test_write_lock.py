"""SQLite's in-process write lock: the webhook's group commit goes before waiting background
writers (issue 10, item 8). Pure asyncio, no database."""

from __future__ import annotations

import asyncio

from portside.db.engine import WriteLock


async def test_an_urgent_writer_goes_before_writers_that_waited_longer() -> None:
    lock = WriteLock()
    order: list[str] = []
    release = asyncio.Event()

    async def writer(name: str, *, urgent: bool = False, hold: asyncio.Event | None = None) -> None:
        async with lock.hold(urgent=urgent):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(writer("events-1", hold=release))
    await asyncio.sleep(0)
    assert lock.locked
    queued = [asyncio.create_task(writer("events-2")), asyncio.create_task(writer("sync"))]
    await asyncio.sleep(0)
    urgent = asyncio.create_task(writer("webhook", urgent=True))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *queued, urgent)
    assert order == ["events-1", "webhook", "events-2", "sync"]
    assert not lock.locked


async def test_a_waiter_cancelled_as_it_is_handed_the_lock_passes_it_on() -> None:
    lock = WriteLock()
    release = asyncio.Event()
    got: list[str] = []

    async def holder() -> None:
        async with lock.hold():
            await release.wait()

    async def waiter(name: str) -> None:
        async with lock.hold():
            got.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    doomed = asyncio.create_task(waiter("doomed"))
    after = asyncio.create_task(waiter("after"))
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)  # the holder leaves and hands the lock to "doomed" ...
    doomed.cancel()  # ... which is cancelled before it runs
    await first
    await asyncio.gather(doomed, after, return_exceptions=True)
    assert got == ["after"]
    assert not lock.locked


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    lock = WriteLock()
    release = asyncio.Event()

    async def holder() -> None:
        async with lock.hold():
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    release.set()
    await first
    assert not lock.locked
    async with lock.hold(urgent=True):
        assert lock.locked
