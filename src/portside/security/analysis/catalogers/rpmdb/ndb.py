"""rpm's ndb ``Packages.db`` (SUSE, openSUSE): slot pages, then checksummed blobs.

The layout of rpm's ``lib/backend/ndb/rpmpkg.c``, all integers little-endian::

    header   32 bytes: "RpmP", version 0, generation, slot page count, next package index
    slots    the rest of the slot pages (4 KiB each), 16 bytes per slot:
             "Slot", package index, block offset, block count (offset 0: a free slot)
    blobs    at block offset * 16: "BlbS", package index, timestamp, length; the header
             blob; zero padding to a 16-byte block; adler32 (of all before it), length, "BlbE"

Every slot, offset, length, magic and checksum is verified as rpm does: a hostile or torn file
raises ``ValueError``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

MAGIC = b"RpmP"
_SLOT_MAGIC, _HEAD_MAGIC, _TAIL_MAGIC = b"Slot", b"BlbS", b"BlbE"
PAGE = 4096
SLOT = BLOCK = 16
_HEADER, _HEAD, _TAIL = 32, 16, 12
MAX_SLOT_PAGES = 2048  # 500,000 packages: more is a hostile file


def header_blobs(content: bytes) -> Iterator[bytes]:
    """Each package's header blob, in file order; ``ValueError`` for a broken file."""
    if len(content) < _HEADER or not content.startswith(MAGIC):
        raise ValueError("not an ndb rpm database")
    version, _generation, slot_pages = struct.unpack_from("<III", content, 4)
    if version != 0:
        raise ValueError(f"ndb version {version}")
    if not 0 < slot_pages <= MAX_SLOT_PAGES or slot_pages * PAGE > len(content):
        raise ValueError(f"ndb with {slot_pages} slot pages in {len(content)} bytes")
    first_blob_block = slot_pages * PAGE // BLOCK
    slots = []
    for offset in range(_HEADER, slot_pages * PAGE, SLOT):
        magic = content[offset : offset + 4]
        index, block, count = struct.unpack_from("<III", content, offset + 4)
        if magic != _SLOT_MAGIC:
            raise ValueError("ndb slot with a bad magic")
        if block == 0:
            continue  # free
        if not index or not count or block < first_blob_block:
            raise ValueError("ndb slot pointing into the slot pages")
        if (block + count) * BLOCK > len(content):
            raise ValueError("ndb slot pointing past the end of the file (truncated)")
        slots.append((block, count, index))
    for block, count, index in sorted(slots):
        yield _blob(content, block, count, index)


def _blob(content: bytes, block: int, count: int, index: int) -> bytes:
    start, end = block * BLOCK, (block + count) * BLOCK
    magic, owner, _timestamp, length = struct.unpack_from("<4sIII", content, start)
    if magic != _HEAD_MAGIC or owner != index:
        raise ValueError(f"ndb blob of package {index} has a bad head")
    if count != (_HEAD + length + _TAIL + BLOCK - 1) // BLOCK:
        raise ValueError(f"ndb blob of package {index} has a wrong block count")
    checksum, tail_length, tail_magic = struct.unpack_from("<I I 4s", content, end - _TAIL)
    if tail_magic != _TAIL_MAGIC or tail_length != length:
        raise ValueError(f"ndb blob of package {index} has a bad tail")
    if zlib.adler32(content[start : end - _TAIL]) != checksum:
        raise ValueError(f"ndb blob of package {index} fails its adler32 checksum")
    return content[start + _HEAD : start + _HEAD + length]
