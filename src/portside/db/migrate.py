"""Schema migrations (Alembic), run on Portside's own connection.

``upgrade`` brings the schema to this version's head; ``wait_until_ready`` lets a background
process started before the migration wait for it, with a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from portside.db.engine import Database
from portside.errors import SchemaNotReady

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)
    log.info("database migrated", extra={"revision": revision})


async def autogenerate(db: Database, message: str) -> Any:
    """Developer helper: write a new revision from the models' differences."""

    def run(connection: Connection) -> Any:
        return command.revision(alembic_config(connection), message=message, autogenerate=True)

    async with db.engine.begin() as conn:
        return await conn.run_sync(run)


async def wait_until_ready(db: Database, wait: float, poll: float = 1.0) -> None:
    """Return once the schema is at head; raise SchemaNotReady after ``wait`` seconds."""
    head = head_revision()
    deadline = time.monotonic() + wait
    while True:
        error: Exception | None = None
        try:
            current = await current_revision(db)
        except Exception as exc:  # an unreachable database is "not ready" until the deadline
            current, error = None, exc
        if current == head:
            return
        if time.monotonic() >= deadline:
            detail = f" ({error})" if error else ""
            raise SchemaNotReady(
                f"database schema is at {current or 'nothing'}, this version needs {head}{detail}: "
                "run `portside db upgrade`"
            )
        await asyncio.sleep(poll)
