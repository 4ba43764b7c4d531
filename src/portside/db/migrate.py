"""Schema migrations (Alembic), run on Portside's own connection.

``upgrade`` brings the schema to this version's head; ``wait_until_ready`` lets a background
process started before the migration wait for it, with a timeout. Alembic is imported only by
the functions that migrate: checking the schema needs a query, not Alembic (``HEAD`` is tested
to be Alembic's head).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from portside.db.engine import Database, explain
from portside.errors import SchemaNotReady, StorageError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0018"  # the newest revision in migrations/versions (a test checks it)

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Alembic's own idea of the head (imports Alembic; see HEAD)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        try:
            found = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        except (OperationalError, ProgrammingError):
            return None  # no alembic_version table: an empty database
        return str(found) if found is not None else None


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(alembic_config(connection), revision)

    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(run)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(explain(exc, db.url)) from exc
    log.info("database migrated", extra={"revision": revision})


async def autogenerate(db: Database, message: str) -> Any:
    """Developer helper: write a new revision from the models' differences."""

    def run(connection: Connection) -> Any:
        from alembic import command

        return command.revision(alembic_config(connection), message=message, autogenerate=True)

    async with db.engine.begin() as conn:
        return await conn.run_sync(run)


async def wait_until_ready(db: Database, wait: float, poll: float = 1.0) -> None:
    """Return once the schema is at head; raise SchemaNotReady after ``wait`` seconds."""
    head = HEAD
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
            detail = f" ({explain(error, db.url)})" if error else ""
            raise SchemaNotReady(
                f"database schema is at {current or 'nothing'}, this version needs {head}{detail}: "
                "run `portside db upgrade`"
            )
        await asyncio.sleep(poll)
