"""Matching a re-match's parts in worker processes while the re-match's own process writes them.

A re-match of many images is Python work (matching, encoding, grouping) followed by database
writes, and Python runs one thread at a time: in one process, the writing waited for the
matching and the matching for the writing. In a worker process, a
:class:`~portside.security.scanning.rematch_matcher.Matcher` matches part after part and sends
each part's outcome back (plain data); the re-match's process writes a part while the worker
matches the next, on two cores. (A thread would not do: a thread busy in Python holds up the
database driver's thread at every row it binds, which made a bulk insert hundreds of times
slower in a trial.)

The workers exist for one re-match (:class:`Workers`): spawned (the re-match's process runs
threads, which ``fork`` does not copy safely), each opens its own connection to the same
database, reads only, and exits when the re-match ends. A database only this process can see
(SQLite in memory) cannot be shared: :func:`can_share` says so, and the re-match then matches in
its own process.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.util import Finalize
from typing import Any

from sqlalchemy.engine import make_url

from portside.db.engine import Database, async_url
from portside.db.types import compresses
from portside.security.scanning.rematch_matcher import Item, Matcher, Part

_WORKER: dict[str, Any] = {}  # in a worker process: its event loop, database and matcher


def can_share(url: str) -> bool:
    """Whether worker processes can open the database at ``url`` too."""
    parsed = make_url(async_url(url))
    if parsed.get_backend_name() != "sqlite":
        return True
    database = parsed.database or ""
    return bool(database) and ":memory:" not in database and parsed.query.get("mode") != "memory"


def _start(url: str, changed_keys: set[tuple[str, str]] | None) -> None:
    """A worker's start: its database and its matcher, kept for its parts."""
    # A short-lived process whose millions of objects form no cycles (see portside.cyclegc).
    gc.disable()
    loop = asyncio.new_event_loop()
    db = Database(url, pool_size=1)
    loop.run_until_complete(db.open())
    matcher = Matcher(changed_keys, compressed=compresses(db.dialect))
    _WORKER.update(loop=loop, db=db, matcher=matcher)
    Finalize(None, _stop, exitpriority=10)  # run as the worker exits


def _stop() -> None:
    """A worker's end: its database closed, then the process ended at once. Tearing down the
    interpreter would free the index and the findings object by object, seconds during which
    the re-match waits for the worker to exit, for nothing: its outcomes are all sent."""
    loop, db = _WORKER.pop("loop", None), _WORKER.pop("db", None)
    if loop is not None and db is not None:
        loop.run_until_complete(db.close())
        loop.close()
    os._exit(0)


def _ready() -> None:
    """Nothing: submitted first, so that the workers start (import, connect) at once."""


def _match(items: Sequence[Item]) -> Part:
    loop: asyncio.AbstractEventLoop = _WORKER["loop"]
    matcher: Matcher = _WORKER["matcher"]
    return loop.run_until_complete(matcher.part(_WORKER["db"], items))


class Workers:
    """The worker processes of one re-match: :meth:`start`, :meth:`submit` parts, :meth:`stop`.

    Spawned workers import the parent's main module again, as ``__mp_main__``: an entry point
    that starts a re-match must keep its start under ``if __name__ == "__main__"`` (the
    ``portside`` command, ``python -m`` modules, uvicorn and pytest do)."""

    def __init__(self, url: str, changed_keys: set[tuple[str, str]] | None, processes: int):
        self._url = url
        self._changed_keys = changed_keys
        self._processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self.broken = False  # a worker died: the pool fails its parts by itself

    @property
    def processes(self) -> int:
        return self._processes

    async def start(self) -> Workers:
        self._pool = ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self._url, self._changed_keys),
        )
        for _ in range(self._processes):
            self._pool.submit(_ready)
        return self

    def submit(self, items: Sequence[Item]) -> asyncio.Future[Part]:
        """A part to match; its outcome when a worker has matched it."""
        assert self._pool is not None, "start() first"
        return asyncio.get_running_loop().run_in_executor(self._pool, _match, items)

    async def stop(self) -> None:
        """Parts not begun are dropped, and the workers exit (waited for in a thread, not on
        the event loop): none is left holding the database once the re-match has ended."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=not self.broken)
