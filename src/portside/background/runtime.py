"""The background process's shape: every task loops on its own.

A task's loop runs ``run_once``, records what happened, then waits for whichever comes first:
new work (``wake``), its interval, or the stop event. A run that reports more work runs again
at once. An exception in a run is logged with context, recorded, and followed by a backoff,
never by the end of the process. ``one_shot`` runs each task until it has nothing left to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from portside.background import state
from portside.background.retry import backoff
from portside.db.engine import Database

log = logging.getLogger(__name__)

STATE_HEARTBEAT = 15.0  # seconds between state writes when runs change nothing
STATE_BUSY_GAP = 1.0  # seconds between state writes while a task runs back to back (``more``)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class TaskRun:
    more: bool = False  # there is more to do now: run again without waiting
    changed: bool = False  # worth recording even between heartbeats
    finished: bool = False  # the task has done all it will ever do (a run-once strategy)
    details: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    name: str
    interval: float

    async def run_once(self) -> TaskRun: ...


def error_backoff(consecutive_errors: int, interval: float, cap: float = 60.0) -> float:
    """The pause after a run's ``consecutive_errors``-th failure in a row, in seconds."""
    return backoff(consecutive_errors, max(interval, 1.0), cap).total_seconds()


class TaskLoop:
    def __init__(
        self,
        task: Task,
        db: Database,
        *,
        worker: str,
        stop: asyncio.Event,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_run: Callable[[str, float, bool, dict[str, Any]], None] | None = None,
    ):
        self.on_run = on_run  # (task, seconds, failed, details), for metrics
        self.task = task
        self.db = db
        self.worker = worker
        self.stop = stop
        self.clock = clock
        self._wake = asyncio.Event()
        self.consecutive_errors = 0
        self.last_error: str | None = None
        self._last_saved = 0.0
        self._runs_unsaved = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, *, one_shot: bool = False) -> None:
        log.info("task %s started", self.task.name, extra={"task": self.task.name})
        while not self.stop.is_set():
            outcome = await self._run_once()
            if outcome is not None and outcome.finished:
                break
            if one_shot and not (outcome is not None and outcome.more):
                break
            if outcome is not None and outcome.more:
                await asyncio.sleep(0)
                continue
            delay = (
                error_backoff(self.consecutive_errors, self.task.interval)
                if outcome is None
                else self.task.interval
            )
            await self._wait(delay)
        log.info("task %s stopped", self.task.name, extra={"task": self.task.name})

    async def _run_once(self) -> TaskRun | None:
        started, clock_start = self.clock(), time.monotonic()
        error: str | None = None
        outcome: TaskRun | None
        try:
            outcome = await self.task.run_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.consecutive_errors += 1
            error = f"{type(exc).__name__}: {exc}"
            self.last_error = error
            log.exception(
                "task %s: run failed (%d in a row)",
                self.task.name,
                self.consecutive_errors,
                extra={
                    "task": self.task.name,
                    "duration": round(time.monotonic() - clock_start, 3),
                    "failures": self.consecutive_errors,
                    "error": error,
                },
            )
            outcome = None
        else:
            self.consecutive_errors = 0
        self._runs_unsaved += 1
        elapsed = time.monotonic() - clock_start
        if self.on_run is not None:
            self.on_run(
                self.task.name, elapsed, error is not None, outcome.details if outcome else {}
            )
        finished = started + timedelta(seconds=elapsed)
        since_saved = time.monotonic() - self._last_saved
        # A task working through a backlog (``more``) records its state at most every
        # STATE_BUSY_GAP: each record is a write transaction, and on SQLite the webhook waits
        # behind it. The run that ends the backlog (or fails, or finishes) records at once.
        busy = outcome is not None and outcome.more and since_saved < STATE_BUSY_GAP
        if (
            error
            or since_saved >= STATE_HEARTBEAT
            or (outcome is not None and outcome.finished)
            or (outcome is not None and outcome.changed and not busy)
        ):
            await self._save(started, finished, error, outcome)
        return outcome

    async def _save(
        self, started: datetime, finished: datetime, error: str | None, outcome: TaskRun | None
    ) -> None:
        interval = (
            error_backoff(self.consecutive_errors, self.task.interval)
            if error
            else self.task.interval
        )
        try:
            async with self.db.write() as session:
                await state.save(
                    session,
                    self.task.name,
                    enabled=True,
                    worker=self.worker,
                    started_at=started,
                    finished_at=finished,
                    error=error,
                    next_run_at=finished + timedelta(seconds=interval),
                    runs=self._runs_unsaved,
                    details=outcome.details if outcome else {},
                )
        except Exception as exc:  # the state is a report: failing to write it stops nothing
            log.warning(
                "task %s: could not record its state: %s",
                self.task.name,
                exc,
                extra={"task": self.task.name, "error": str(exc)},
            )
            return
        self._runs_unsaved = 0
        self._last_saved = time.monotonic()

    async def _wait(self, delay: float) -> None:
        waiters = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(self.stop.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
        self._wake.clear()


class Runtime:
    """Runs task loops side by side until the stop event is set."""

    def __init__(
        self,
        db: Database,
        tasks: list[Task],
        *,
        worker: str | None = None,
        on_run: Callable[[str, float, bool, dict[str, Any]], None] | None = None,
    ):
        self.stop = asyncio.Event()
        self.worker = worker or worker_id()
        self.loops = {
            task.name: TaskLoop(task, db, worker=self.worker, stop=self.stop, on_run=on_run)
            for task in tasks
        }

    def wake(self, name: str) -> None:
        loop = self.loops.get(name)
        if loop is not None:
            loop.wake()

    async def run(self, *, one_shot: bool = False) -> None:
        async with asyncio.TaskGroup() as group:
            for name, loop in self.loops.items():
                group.create_task(loop.run(one_shot=one_shot), name=f"portside-task-{name}")
