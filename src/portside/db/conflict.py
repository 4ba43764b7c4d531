"""``INSERT ... ON CONFLICT`` in the database's own dialect.

SQLite and PostgreSQL share the syntax but not the statement class. Each dialect's module is
imported on first use, so a SQLite process (a one-shot `portside scan`) never loads
PostgreSQL's, which costs tens of milliseconds of start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def conflict_insert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` with ``on_conflict_do_nothing``/``_update``, for ``dialect``
    (an engine's ``dialect.name``)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
