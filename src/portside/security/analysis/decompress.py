"""Streaming decompression of a layer blob, with every output piece bounded.

A decompressor is pushed compressed bytes as they arrive and yields the tar stream in pieces of
at most a few MiB, however compressible the input: a gzip or zstd bomb is counted piece by piece
by the caller and stopped at its limit, never inflated in one call. ``finish()`` refuses a stream
that stops inside a gzip member or zstd frame (a truncated download).

gzip uses :mod:`zlib` (``max_length`` bounds each piece; multi-member streams are read whole).
zstd uses the ``zstandard`` package, imported only when a zstd layer comes: its streaming object
has no output bound, so it is fed 1 KiB at a time, which bounds a piece to ~32 MiB (zstd's
densest encoding is ~32,000:1). Multi-frame streams (zstd:chunked) and skippable frames are read.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterator
from typing import Any, Protocol, cast

from portside.security.analysis.limits import LayerRejected, UnsupportedLayer

GZIP_PIECE = 256 * 1024
ZSTD_INPUT_SLICE = 1024

GZIP = "gzip"
ZSTD = "zstd"
PLAIN = "tar"

_LAYER_TYPES = {
    "application/vnd.oci.image.layer.v1.tar": PLAIN,
    "application/vnd.oci.image.layer.v1.tar+gzip": GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd": ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar": PLAIN,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar": PLAIN,
    "application/vnd.docker.image.rootfs.diff.tar.gzip": GZIP,
    "application/vnd.docker.image.rootfs.diff.tar.zstd": ZSTD,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": GZIP,
}


class Decompressor(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decompress ``data``, yielding the output in bounded pieces."""
        ...

    def finish(self) -> None:
        """Check the stream ended where a compressed stream may end."""
        ...


def compression_of(media_type: str) -> str:
    """``"gzip"``, ``"zstd"`` or ``"tar"`` for a layer media type; UnsupportedLayer otherwise."""
    base = media_type.split(";", 1)[0].strip().lower()
    try:
        return _LAYER_TYPES[base]
    except KeyError:
        raise UnsupportedLayer(
            f"not a layer media type the scanner reads: {media_type!r}"
        ) from None


def open_decompressor(media_type: str) -> Decompressor:
    compression = compression_of(media_type)
    if compression == GZIP:
        return GzipDecompressor()
    if compression == ZSTD:
        return ZstdDecompressor()
    return PlainStream()


class PlainStream:
    """An uncompressed tar: passed through."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> None:
        return None


def _inflater() -> tuple[Any, tuple[type[Exception], ...]]:
    """ISA-L's inflate (python-isal, about twice as fast as zlib here) when installed; zlib
    otherwise. Both have the same streaming API."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib, (zlib.error,)
    isal_error = cast(type[Exception], isal_zlib.error)
    return isal_zlib, (isal_error, zlib.error)


INFLATE, INFLATE_ERRORS = _inflater()


class GzipDecompressor:
    def __init__(self) -> None:
        self._inflate = INFLATE.decompressobj(wbits=31)
        self._in_member = False
        self._seen_input = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        self._seen_input = self._in_member = True
        pending = data
        while True:
            try:
                out = self._inflate.decompress(pending, GZIP_PIECE)
            except INFLATE_ERRORS as exc:
                raise LayerRejected(f"corrupt gzip stream: {exc}") from exc
            if out:
                yield out
            if self._inflate.eof:  # a member ended; another may follow
                pending = self._inflate.unused_data
                self._inflate = INFLATE.decompressobj(wbits=31)
                self._in_member = bool(pending)
                if not pending:
                    return
                continue
            pending = self._inflate.unconsumed_tail
            # Output stopped short of the bound with all input used: nothing more is held.
            if not pending and len(out) < GZIP_PIECE:
                return

    def finish(self) -> None:
        if not self._seen_input:
            raise LayerRejected("empty layer blob: not a gzip stream")
        if self._in_member:
            raise LayerRejected("truncated gzip stream: the blob ends inside a gzip member")


def _zstandard() -> Any:
    try:
        return importlib.import_module("zstandard")
    except ImportError:
        raise UnsupportedLayer(
            "a zstd-compressed layer: the scanner needs the 'zstandard' package for it"
        ) from None


class ZstdDecompressor:
    def __init__(self) -> None:
        self._module = _zstandard()
        self._context = self._module.ZstdDecompressor()
        self._frame = self._context.decompressobj()
        self._in_frame = False
        self._seen_input = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(view), ZSTD_INPUT_SLICE):
            yield from self._feed_slice(bytes(view[start : start + ZSTD_INPUT_SLICE]))

    def _feed_slice(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while pending:
            self._seen_input = self._in_frame = True
            try:
                out = self._frame.decompress(pending)
            except self._module.ZstdError as exc:
                raise LayerRejected(f"corrupt zstd stream: {exc}") from exc
            if out:
                yield out
            if not self._frame.eof:
                return
            pending = self._frame.unused_data
            self._frame = self._context.decompressobj()
            self._in_frame = False

    def finish(self) -> None:
        if not self._seen_input:
            raise LayerRejected("empty layer blob: not a zstd stream")
        if self._in_frame:
            raise LayerRejected("truncated zstd stream: the blob ends inside a zstd frame")
