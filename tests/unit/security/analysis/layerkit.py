"""Build layer blobs for the tests: real tar archives (written by :mod:`tarfile`), compressed."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from portside.security.analysis.layers import LayerFiles, read_layer_bytes
from portside.security.analysis.limits import Limits

DATA = Path(__file__).resolve().parents[3] / "data" / "scan"

TAR = "application/vnd.oci.image.layer.v1.tar"
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
TAR_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


@dataclass(frozen=True)
class Entry:
    name: str
    content: bytes = b""
    type: bytes = tarfile.REGTYPE
    linkname: str = ""
    size: int | None = None  # a claimed size for a streamed file (content is then zeros)


def file(name: str, content: bytes | str = b"") -> Entry:
    return Entry(name, content.encode() if isinstance(content, str) else content)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, type=tarfile.SYMTYPE, linkname=target)


def hardlink(name: str, target: str) -> Entry:
    return Entry(name, type=tarfile.LNKTYPE, linkname=target)


def directory(name: str) -> Entry:
    return Entry(name, type=tarfile.DIRTYPE)


def whiteout(path: str) -> Entry:
    parent, _, name = path.rpartition("/")
    return file(f"{parent}/.wh.{name}" if parent else f".wh.{name}")


def opaque(directory_path: str) -> Entry:
    return file(f"{directory_path}/.wh..wh..opq")


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def tar_stream(entries: Iterable[Entry], *, fmt: int = tarfile.PAX_FORMAT) -> io.BytesIO:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = entry.type
            info.linkname = entry.linkname
            info.mode = 0o755 if entry.type == tarfile.DIRTYPE else 0o644
            if entry.type == tarfile.REGTYPE:
                info.size = entry.size if entry.size is not None else len(entry.content)
                source = _Zeros(info.size) if entry.size is not None else io.BytesIO(entry.content)
                archive.addfile(info, source)
            else:
                archive.addfile(info)
    return out


def tar(entries: Iterable[Entry], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    return tar_stream(entries, fmt=fmt).getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def zst(data: bytes) -> bytes:
    import zstandard  # type: ignore[import-not-found, unused-ignore]

    compressed: bytes = zstandard.ZstdCompressor().compress(data)
    return compressed


def gzip_zeros_bomb(size: int) -> bytes:
    """A gzip stream of a tar holding one ``size``-byte file of zeros, built without the zeros."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    info = tarfile.TarInfo("zeros.bin")
    info.size = size
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    parts = [deflate.compress(header)]
    block = bytes(1 << 20)
    for _ in range(size >> 20):
        parts.append(deflate.compress(block))
    parts.append(deflate.compress(bytes(2 * 512)))
    parts.append(deflate.flush())
    return b"".join(parts)


def digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def pieces(blob: bytes, size: int = 7001) -> Iterator[bytes]:
    for start in range(0, len(blob), size):
        yield blob[start : start + size]


async def stream(blob: bytes, size: int = 7001) -> AsyncIterator[bytes]:
    for piece in pieces(blob, size):
        yield piece


def read(
    blob: bytes, media_type: str = TAR_GZIP, *, limits: Limits | None = None, chunk: int = 7001
) -> LayerFiles:
    """Read a blob as the scanner does, in uneven chunks, its digest computed from it."""
    return read_layer_bytes(
        digest(blob), media_type, pieces(blob, chunk), limits=limits or Limits()
    )


def layer(entries: Iterable[Entry], media_type: str = TAR_GZIP) -> LayerFiles:
    """A layer with the given entries, read back through the scanner."""
    raw = tar(entries)
    blob = gz(raw) if media_type == TAR_GZIP else raw
    return read(blob, media_type)
