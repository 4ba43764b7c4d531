"""rpm's SQLite database (``rpmdb.sqlite``): the header blobs of its ``Packages`` table.

The file is opened from memory (:meth:`sqlite3.Connection.deserialize`), never written to disk.
rpm leaves it in WAL mode, which an in-memory database cannot open: the header's two
file-format bytes are set back to the rollback journal first (a WAL file of the layer, with
transactions never checkpointed into the database, is not read; rpm checkpoints on close).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

_WAL_VERSION_BYTES = slice(18, 20)
SQLITE_MAGIC = b"SQLite format 3\x00"


def header_blobs(content: bytes) -> Iterator[bytes]:
    """Each package's header blob, in install order; ``ValueError`` for a broken database."""
    if not content.startswith(SQLITE_MAGIC) or len(content) < 100:
        raise ValueError("not an SQLite database")
    data = bytearray(content)
    if data[_WAL_VERSION_BYTES] == b"\x02\x02":
        data[_WAL_VERSION_BYTES] = b"\x01\x01"
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(bytes(data))
        rows = connection.execute("SELECT blob FROM Packages ORDER BY hnum").fetchall()
    except sqlite3.Error as exc:
        raise ValueError(f"unreadable SQLite rpm database: {exc}") from exc
    finally:
        connection.close()
    for (blob,) in rows:
        if isinstance(blob, bytes):
            yield blob
