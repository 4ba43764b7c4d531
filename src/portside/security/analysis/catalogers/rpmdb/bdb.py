"""rpm's Berkeley DB ``Packages``: a BDB hash database, read from its pages directly.

Page 0 is the hash metadata page (magic ``0x061561`` at byte 12, page size at 20, last page
number at 32, in the byte order of the machine that wrote it). Hash pages (type 13, or 2 for
the unsorted pages of old releases) hold an array of 16-bit item offsets after their 26-byte
header, in key/value pairs. A key is the package's number (4 bytes); a value is an rpm header,
stored either on the page (``H_KEYDATA``, type 1) or, being large, on a chain of overflow pages
(``H_OFFPAGE``, type 3: first page number and total length; overflow pages, type 7, each hold
``hf_offset`` bytes after their header and name the next page). Key 0 is rpm's counter, not a
package. Every page number, offset and length is checked: a hostile file raises ``ValueError``.

Layout from Berkeley DB's ``dbinc/db_page.h``; checked against files written by
``db5.3_load`` that rpm 4.18's ``bdb_ro`` backend lists.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

HASH_MAGIC = 0x061561
PAGE_HEADER = 26
_VALID_PAGE_SIZES = frozenset(512 << shift for shift in range(8))  # 512 .. 64 KiB
_HASH_PAGES = frozenset({2, 13})  # P_HASH_UNSORTED, P_HASH
_OVERFLOW_PAGE = 7
_KEYDATA, _OFFPAGE = 1, 3


def is_bdb_hash(content: bytes) -> bool:
    """A Berkeley DB hash database: its magic at offset 12, in either byte order."""
    magic = content[12:16]
    return len(magic) == 4 and HASH_MAGIC in (
        int.from_bytes(magic, "little"),
        int.from_bytes(magic, "big"),
    )


class _Database:
    def __init__(self, content: bytes) -> None:
        if len(content) < 512 or not is_bdb_hash(content):
            raise ValueError("not a Berkeley DB hash database")
        self.order = "<" if int.from_bytes(content[12:16], "little") == HASH_MAGIC else ">"
        (page_size,) = struct.unpack_from(self.order + "I", content, 20)
        (last_page,) = struct.unpack_from(self.order + "I", content, 32)
        if page_size not in _VALID_PAGE_SIZES:
            raise ValueError(f"Berkeley DB page size {page_size}")
        if content[24] != 0:
            raise ValueError("encrypted Berkeley DB")
        if (last_page + 1) * page_size > len(content):
            raise ValueError(f"Berkeley DB of {last_page + 1} pages cut at {len(content)} bytes")
        self.content = content
        self.page_size = page_size
        self.pages = last_page + 1

    def page(self, number: int) -> bytes:
        if not 0 < number < self.pages:
            raise ValueError(f"Berkeley DB page {number} outside the file")
        start = number * self.page_size
        return self.content[start : start + self.page_size]

    def uint(self, fmt: str, data: bytes, offset: int) -> int:
        value: int = struct.unpack_from(self.order + fmt, data, offset)[0]
        return value


def header_blobs(content: bytes) -> Iterator[bytes]:
    """Each package's header blob; ``ValueError`` for a damaged or hostile file."""
    db = _Database(content)
    for number in range(1, db.pages):
        page = db.page(number)
        if page[25] not in _HASH_PAGES:
            continue
        for key, value in _pairs(db, page):
            if key != b"\x00\x00\x00\x00":
                yield value


def _pairs(db: _Database, page: bytes) -> Iterator[tuple[bytes, bytes]]:
    count = db.uint("H", page, 20)
    if count % 2 or PAGE_HEADER + 2 * count > len(page):
        raise ValueError("Berkeley DB hash page with a broken item index")
    offsets = [db.uint("H", page, PAGE_HEADER + 2 * index) for index in range(count)]
    for index in range(0, count, 2):
        key = _item(db, page, offsets, index)
        yield key, _item(db, page, offsets, index + 1)


def _item(db: _Database, page: bytes, offsets: list[int], index: int) -> bytes:
    start = offsets[index]
    end = offsets[index - 1] if index else len(page)  # items are stacked from the page's end
    if not PAGE_HEADER <= start < end <= len(page):
        raise ValueError("Berkeley DB item outside its page")
    kind = page[start]
    if kind == _KEYDATA:
        return page[start + 1 : end]
    if kind == _OFFPAGE and end - start >= 12:
        return _overflow(db, db.uint("I", page, start + 4), db.uint("I", page, start + 8))
    raise ValueError(f"Berkeley DB item of type {kind}, not one rpm writes")


def _overflow(db: _Database, first: int, length: int) -> bytes:
    parts: list[bytes] = []
    size, number, seen = 0, first, 0
    while number:
        seen += 1
        if seen > db.pages:
            raise ValueError("Berkeley DB overflow chain loops")
        page = db.page(number)
        used = db.uint("H", page, 22)
        if page[25] != _OVERFLOW_PAGE or PAGE_HEADER + used > len(page):
            raise ValueError(f"Berkeley DB overflow page {number} is broken")
        parts.append(page[PAGE_HEADER : PAGE_HEADER + used])
        size += used
        if size > length:
            break
        number = db.uint("I", page, 16)
    if size != length:
        raise ValueError(f"Berkeley DB overflow item of {size} bytes, not {length}")
    return b"".join(parts)
