"""Each background task's last run, kept in the database so any process can report it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.models import TaskState


async def save(
    session: AsyncSession,
    name: str,
    *,
    enabled: bool,
    worker: str,
    started_at: datetime,
    finished_at: datetime,
    error: str | None,
    next_run_at: datetime | None,
    runs: int,
    details: dict[str, Any],
) -> None:
    state = await session.get(TaskState, name)
    if state is None:
        state = TaskState(name=name, runs=0, details={})
        session.add(state)
    state.enabled = enabled
    state.worker = worker
    state.last_started_at = started_at
    state.last_finished_at = finished_at
    state.last_duration = (finished_at - started_at).total_seconds()
    if error is not None:
        state.last_error = error
        state.last_error_at = finished_at
    state.next_run_at = next_run_at
    state.runs = (state.runs or 0) + runs
    state.details = details


async def load_all(session: AsyncSession) -> dict[str, TaskState]:
    rows = await session.scalars(select(TaskState))
    return {state.name: state for state in rows.all()}
