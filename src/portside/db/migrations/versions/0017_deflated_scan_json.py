"""scan_targets.packages and scan_targets.findings deflated on SQLite

SQLite rewrites a whole row whenever one of its columns changes, and an image's package list
and findings were 300 KB of its ``scan_targets`` row: a re-match that changed a thousand images'
findings rewrote 290 MB. Portside now stores both as zlib-compressed JSON on SQLite
(``DeflatedJSON`` then, now :class:`portside.db.types.CompressedJSON`; 12-17x smaller); this
revision deflates the rows stored before. PostgreSQL is left as it is: its TOAST already keeps
large values compressed and apart from the row. The downgrade stores the JSON text again (of
zlib rows, and of the zstd frames later code writes).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 13:20:00
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import zstandard
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BATCH = 200
LEVEL = 1  # as portside.db.types.DEFLATE_LEVEL was at this revision
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COLUMNS = ("packages", "findings")

# Untyped columns: the values as the driver gives them (text, or bytes once deflated).
_targets = sa.table("scan_targets", sa.column("id", sa.Integer()), *map(sa.column, COLUMNS))


def upgrade() -> None:
    _rewrite(op.get_bind(), _deflate)


def downgrade() -> None:
    _rewrite(op.get_bind(), _inflate)


def _deflate(value: Any) -> Any:
    return zlib.compress(value.encode(), LEVEL) if isinstance(value, str) else value


def _inflate(value: Any) -> Any:
    if not isinstance(value, bytes):
        return value
    if value[:4] == ZSTD_MAGIC:  # written by later code (types.compress: zstd)
        return zstandard.decompress(value).decode()
    return zlib.decompress(value).decode()


def _rewrite(bind: sa.Connection, convert: Callable[[Any], Any]) -> None:
    """Each row's two columns converted, a batch of rows at a time (SQLite only)."""
    if bind.dialect.name != "sqlite":
        return
    store = (
        sa.update(_targets)
        .where(_targets.c.id == sa.bindparam("key"))
        .values({c: sa.bindparam(f"new_{c}") for c in COLUMNS})
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(_targets.c.id, *(_targets.c[c] for c in COLUMNS))
            .where(_targets.c.id > after)
            .order_by(_targets.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = [
            {"key": row.id, **{f"new_{c}": convert(getattr(row, c)) for c in COLUMNS}}
            for row in rows
        ]
        bind.execute(store, values)
        after = rows[-1].id
