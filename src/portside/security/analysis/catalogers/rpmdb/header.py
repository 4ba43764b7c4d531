"""The rpm header format, as rpm stores one installed package in its database.

A header blob (the "immutable region" of an rpm file, without the 8-byte magic in the database)::

    int32 il          number of index entries            (all integers big-endian)
    int32 dl          size of the data store
    il * { int32 tag, int32 type, int32 offset, int32 count }
    dl bytes          the data store; an entry's value starts at store[offset]

Types used here: 4 INT32 (count values), 6 STRING and 9 I18NSTRING (NUL-terminated; for
I18NSTRING the first of ``count`` is the C locale's), 8 STRING_ARRAY. Every offset, count and
string end is checked against the blob: a hostile blob raises ``ValueError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
MAX_ENTRIES = 0xFFFF  # rpm's own limits (HEADER_TAGS_MAX, HEADER_DATA_MAX)
MAX_DATA = 256 * 1024 * 1024

NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_WANTED = frozenset({NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM})


@dataclass(frozen=True, slots=True)
class RpmHeader:
    name: str
    version: str
    release: str
    epoch: int | None
    arch: str | None
    source_rpm: str | None


def parse_header(blob: bytes) -> RpmHeader:
    """The package a header blob describes; ``ValueError`` if it is not a valid one."""
    if blob.startswith(MAGIC):
        blob = blob[len(MAGIC) :]
    if len(blob) < 8:
        raise ValueError("rpm header shorter than its preamble")
    il, dl = struct.unpack_from(">ii", blob, 0)
    if not 0 < il <= MAX_ENTRIES or not 0 <= dl <= MAX_DATA:
        raise ValueError(f"rpm header with {il} entries and {dl} bytes of data")
    store_at = 8 + 16 * il
    if store_at + dl > len(blob):
        raise ValueError("rpm header larger than its blob")
    store = blob[store_at : store_at + dl]
    values: dict[int, str | int] = {}
    for index in range(il):
        tag, kind, offset, count = struct.unpack_from(">iiii", blob, 8 + 16 * index)
        if tag in _WANTED:
            values[tag] = _value(store, kind, offset, count)
    name, version, release = values.get(NAME), values.get(VERSION), values.get(RELEASE)
    if not isinstance(name, str) or not isinstance(version, str) or not isinstance(release, str):
        raise ValueError("rpm header without NAME, VERSION and RELEASE")
    epoch, arch, source = values.get(EPOCH), values.get(ARCH), values.get(SOURCERPM)
    return RpmHeader(
        name=name,
        version=version,
        release=release,
        epoch=epoch if isinstance(epoch, int) else None,
        arch=arch if isinstance(arch, str) else None,
        source_rpm=source if isinstance(source, str) else None,
    )


def _value(store: bytes, kind: int, offset: int, count: int) -> str | int:
    if not 0 <= offset < len(store) or count <= 0:
        raise ValueError(f"rpm header entry outside its data ({offset}, {count})")
    if kind == _INT32:
        if offset % 4 or offset + 4 > len(store):
            raise ValueError("misplaced INT32 in rpm header")
        value: int = struct.unpack_from(">i", store, offset)[0]
        return value
    if kind in (_STRING, _STRING_ARRAY, _I18NSTRING):
        end = store.find(b"\x00", offset)
        if end < 0:
            raise ValueError("unterminated string in rpm header")
        return store[offset:end].decode("utf-8", "replace")
    raise ValueError(f"unexpected rpm header type {kind}")


def source_package(source_rpm: str) -> tuple[str, str] | None:
    """``bash-5.1.8-6.el9.src.rpm`` -> ``("bash", "5.1.8-6.el9")``."""
    stem = source_rpm.removesuffix(".rpm")
    stem = stem.removesuffix(".src").removesuffix(".nosrc")
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], f"{parts[1]}-{parts[2]}"
