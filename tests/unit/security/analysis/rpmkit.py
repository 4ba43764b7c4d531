"""rpm databases for the tests: header blobs in rpm's format, and the three database files."""

from __future__ import annotations

import sqlite3
import struct
import zlib

from tests.unit.security.analysis.layerkit import DATA

HELLO = (DATA / "rpm" / "hello-portside.header").read_bytes()  # written by rpm 4.18
TINY = (DATA / "rpm" / "tiny-lib.header").read_bytes()
BDB = (DATA / "rpm" / "Packages.bdb512").read_bytes()  # written by Berkeley DB 5.3

INT32, STRING, BIN, STRING_ARRAY, I18NSTRING = 4, 6, 7, 8, 9


def header(
    tags: dict[int, str | int | list[str]], *, extra: tuple[tuple[int, int, int, int], ...] = ()
) -> bytes:
    """A header blob: ``str`` as STRING, ``int`` as INT32, ``list`` as STRING_ARRAY.

    ``extra`` index entries (tag, type, offset, count) are appended as given (to break things).
    """
    index: list[tuple[int, int, int, int]] = []
    store = bytearray()
    for tag, value in tags.items():
        if isinstance(value, int):
            store += bytes(-len(store) % 4)
            index.append((tag, INT32, len(store), 1))
            store += struct.pack(">i", value)
        elif isinstance(value, str):
            index.append((tag, STRING, len(store), 1))
            store += value.encode() + b"\x00"
        else:
            index.append((tag, STRING_ARRAY, len(store), len(value)))
            store += b"".join(item.encode() + b"\x00" for item in value)
    index.extend(extra)
    return (
        struct.pack(">ii", len(index), len(store))
        + b"".join(struct.pack(">iiii", *entry) for entry in index)
        + bytes(store)
    )


def sqlite_rpmdb(blobs: list[bytes], *, wal: bool = True) -> bytes:
    """An rpmdb.sqlite as rpm 4.16+ writes it (its Packages table; WAL mode by default)."""
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)"
    )
    connection.executemany("INSERT INTO Packages (blob) VALUES (?)", [(blob,) for blob in blobs])
    connection.commit()
    data = bytearray(connection.serialize())
    connection.close()
    if wal:
        data[18:20] = b"\x02\x02"  # the file format bytes of a database in WAL mode
    return bytes(data)


def ndb_rpmdb(blobs: list[bytes], *, slot_pages: int = 1) -> bytes:
    """A Packages.db as rpm's ndb backend (lib/backend/ndb/rpmpkg.c) writes it."""
    slots = bytearray()
    data = bytearray()
    block = slot_pages * 4096 // 16
    for index, blob in enumerate(blobs, start=1):
        count = (16 + len(blob) + 12 + 15) // 16
        head = b"BlbS" + struct.pack("<III", index, 1_700_000_000, len(blob))
        body = head + blob + bytes(count * 16 - 16 - len(blob) - 12)
        data += body + struct.pack("<II", zlib.adler32(body), len(blob)) + b"BlbE"
        slots += b"Slot" + struct.pack("<III", index, block, count)
        block += count
    header = b"RpmP" + struct.pack("<IIII", 0, 7, slot_pages, len(blobs) + 1) + bytes(12)
    free = slot_pages * 4096 - len(header) - len(slots)
    return header + bytes(slots) + (b"Slot" + bytes(12)) * (free // 16) + bytes(data)
