"""Fresh databases for tests: SQLite files and PostgreSQL databases on 127.0.0.1:5432.

The schema is migrated once per session into a template (a file for SQLite, a template
database for PostgreSQL) and cloned for each test.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg

from portside.db import migrate
from portside.db.engine import Database

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"


def _run(coro_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion in its own thread (callers may be inside a loop)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(coro_fn())).result()


async def _migrate(url: str) -> None:
    async with Database(url) as db:
        await migrate.upgrade(db)


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.db"
    _run(lambda: _migrate(f"sqlite:///{path}"))
    return path


def sqlite_clone(template: Path, directory: Path) -> str:
    path = directory / f"portside-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_template() -> str:
    name = f"portside_tmpl_{uuid.uuid4().hex[:8]}"
    _run(lambda: _admin(f'CREATE DATABASE "{name}"'))
    _run(lambda: _migrate(PG_URL.format(name=name)))
    return name


async def pg_clone(template: str) -> str:
    name = f"portside_test_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


async def pg_drop(name: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_drop_sync(name: str) -> None:
    _run(lambda: pg_drop(name))
