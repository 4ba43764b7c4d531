"""An incremental (push) tar reader: fed bytes as they are decompressed, never reading ahead.

Why not :mod:`tarfile`: its stream mode pulls from a blocking file object, so an async download
would need a worker thread and a queue between the two, and it keeps every member's
``TarInfo`` for the whole archive. A tar stream is simple (512-byte headers, data padded to 512
bytes), so this reader is fed whatever the decompressor produced and returns the entries it
completed: no thread, no lookahead, memory bounded by
:class:`~portside.security.analysis.limits.Limits`,
and no way to hang (it stops when the input stops; :meth:`TarReader.close` then says whether
the archive was complete).

Read as Go's ``archive/tar`` reads it, since that is what Docker and containerd extract with:
ustar names with their prefix, GNU long names and link names (``L``/``K``), PAX ``path``,
``linkpath`` and ``size`` records for the next entry (global ``g`` headers ignored), base-256
sizes; a header with a wrong checksum is corruption; the archive ends at a zero block or at
the end of the stream on a header boundary.

Only regular files the ``want`` predicate picks are kept, and only up to ``max_file_bytes``
(``max_database_bytes`` for those ``is_database`` picks); every other entry is reported without
its content, which is skipped as it streams past.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from portside.security.analysis.limits import LayerRejected, Limits
from portside.security.analysis.tarformat import (
    checksum_ok,
    decimal,
    number,
    parse_pax,
    text,
    ustar_name,
)

BLOCK = 512


class Kind(enum.Enum):
    FILE = "file"
    DIRECTORY = "directory"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    OTHER = "other"  # device, fifo, sparse file, unknown type


_KINDS = {
    b"0": Kind.FILE,
    b"\x00": Kind.FILE,
    b"7": Kind.FILE,
    b"1": Kind.HARDLINK,
    b"2": Kind.SYMLINK,
    b"5": Kind.DIRECTORY,
}
_META = frozenset({b"x", b"g", b"L", b"K"})


@dataclass(frozen=True, slots=True)
class TarEntry:
    name: str
    """As written in the archive (normalize it with
    :func:`portside.security.analysis.paths.normalize`)."""
    kind: Kind
    size: int
    linkname: str = ""
    content: bytes | None = None
    """The data of a kept regular file; ``None`` for every other entry."""


class _State(enum.Enum):
    HEADER = "header"
    DATA = "data"
    ENDING = "ending"  # one zero block seen
    END = "end"


class TarReader:
    """Push decompressed tar bytes in with :meth:`feed`; get the completed entries back."""

    def __init__(
        self,
        want: Callable[[str], bool],
        limits: Limits,
        is_database: Callable[[str], bool] = lambda name: False,
    ) -> None:
        self._want = want
        self._is_database = is_database
        self._limits = limits
        self._state = _State.HEADER
        self._block = bytearray()
        self._remaining = 0
        self._padding = 0
        self._sink: bytearray | None = None
        self._meta: bytes | None = None  # typeflag of the extended header being read
        self._entry: TarEntry | None = None  # the entry whose data is being read
        self._pax: dict[str, str] = {}
        self._long_name: str | None = None
        self._long_link: str | None = None
        self.entries = 0
        self.kept_bytes = 0

    def feed(self, data: bytes) -> list[TarEntry]:
        done: list[TarEntry] = []
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end and self._state is not _State.END:
            if self._state is _State.DATA:
                take = min(self._remaining, end - pos)
                if self._sink is not None:
                    self._sink += view[pos : pos + take]
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._complete(done)
            elif self._padding:
                take = min(self._padding, end - pos)
                pos += take
                self._padding -= take
            else:
                take = min(BLOCK - len(self._block), end - pos)
                self._block += view[pos : pos + take]
                pos += take
                if len(self._block) == BLOCK:
                    block = bytes(self._block)
                    self._block.clear()
                    self._header(block, done)
        return done

    def close(self) -> None:
        """Raise LayerRejected unless the stream stopped where a tar archive may end."""
        if self._state is _State.DATA or self._padding:
            name = self._entry.name if self._entry else None
            what = repr(name) if name else "an extended header or an entry's padding"
            raise LayerRejected(f"truncated tar: the layer ends inside {what}", path=name)
        if self._block:
            raise LayerRejected("truncated tar: the layer ends inside a header")

    def _header(self, block: bytes, done: list[TarEntry]) -> None:
        if not any(block):
            self._state = _State.ENDING if self._state is _State.HEADER else _State.END
            return
        if self._state is _State.ENDING:
            raise LayerRejected("corrupt tar: a header after the end-of-archive block")
        if not checksum_ok(block):
            raise LayerRejected("corrupt tar: a header checksum is wrong (damaged or not a tar)")
        typeflag = block[156:157]
        size = number(block[124:136], "size")
        if typeflag in _META:
            self._start_meta(typeflag, size)
        else:
            self._start_entry(block, typeflag, size)
        if not self._remaining:
            self._complete(done)

    def _start_meta(self, typeflag: bytes, size: int) -> None:
        limits = self._limits
        limit, bound = (
            ("max_path_length", limits.max_path_length)
            if typeflag in (b"L", b"K")
            else ("max_pax_bytes", limits.max_pax_bytes)
        )
        if size > bound:
            raise LayerRejected(
                f"an extended tar header of {size} bytes, over {limit} ({bound})", limit=limit
            )
        self._meta = typeflag
        self._entry = None
        self._sink = bytearray()
        self._expect(size)

    def _start_entry(self, block: bytes, typeflag: bytes, size: int) -> None:
        limits = self._limits
        name = self._pax.get("path") or self._long_name or ustar_name(block)
        linkname = self._pax.get("linkpath") or self._long_link or text(block[157:257])
        if "size" in self._pax:
            size = decimal(self._pax["size"], "size")
        self._pax, self._long_name, self._long_link = {}, None, None
        kind = _KINDS.get(typeflag, Kind.OTHER)
        if kind is Kind.FILE and name.endswith("/"):
            kind = Kind.DIRECTORY  # a legacy archive's directory
        if typeflag == b"S" and block[482]:
            raise LayerRejected("unsupported tar: old GNU sparse file with extension headers")
        if kind in (Kind.DIRECTORY, Kind.SYMLINK, Kind.HARDLINK) or typeflag in b"346":
            size = 0  # header-only types carry no data, whatever the size field says
        self.entries += 1
        if self.entries > limits.max_files:
            raise LayerRejected(
                f"more than max_files ({limits.max_files}) entries in the layer",
                limit="max_files",
                path=name[:200],
            )
        if len(name) > limits.max_path_length:
            raise LayerRejected(
                f"a path longer than max_path_length ({limits.max_path_length})",
                limit="max_path_length",
                path=name[:200],
            )
        self._meta = None
        self._sink = None
        if kind is Kind.FILE and self._want(name):
            self._reserve(name, size)
            self._sink = bytearray()
        self._entry = TarEntry(name=name, kind=kind, size=size, linkname=linkname)
        self._expect(size)

    def _reserve(self, name: str, size: int) -> None:
        limits = self._limits
        limit = "max_database_bytes" if self._is_database(name) else "max_file_bytes"
        bound: int = getattr(limits, limit)
        if size > bound:
            raise LayerRejected(
                f"{name!r} is {size} bytes, over {limit} ({bound})", limit=limit, path=name
            )
        self.kept_bytes += size
        if self.kept_bytes > limits.max_kept_bytes:
            raise LayerRejected(
                f"the files of interest pass max_kept_bytes ({limits.max_kept_bytes}) at {name!r}",
                limit="max_kept_bytes",
                path=name,
            )

    def _expect(self, size: int) -> None:
        self._remaining = size
        self._padding = -size % BLOCK
        self._state = _State.DATA

    def _complete(self, done: list[TarEntry]) -> None:
        data = bytes(self._sink) if self._sink is not None else None
        self._sink = None
        self._state = _State.HEADER
        if self._meta is not None:
            meta, self._meta = self._meta, None
            assert data is not None
            if meta == b"x":
                self._pax = parse_pax(data, self._limits)
            elif meta == b"L":
                self._long_name = text(data)
            elif meta == b"K":
                self._long_link = text(data)
            return
        entry, self._entry = self._entry, None
        assert entry is not None
        if data is not None:
            entry = TarEntry(entry.name, entry.kind, entry.size, entry.linkname, data)
        done.append(entry)
