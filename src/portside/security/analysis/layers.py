"""Read one layer blob as it streams from the registry: keep the files that identify software.

The blob is never written to disk nor held whole in memory. Compressed chunks go through a
bounded streaming decompressor (:mod:`~portside.security.analysis.decompress`) into an incremental
tar
reader (:mod:`~portside.security.analysis.tarstream`) that keeps only the regular files ``want``
picks
(:func:`portside.security.analysis.catalogers.is_interesting` by default) and records what the
layer deletes
from the layers below. Both are push-based and synchronous, so :class:`LayerReader` does no I/O
and :func:`read_layer` is a short async loop around it: no thread, no queue, and nothing that
can wait for input that never comes. Every size is bounded by :class:`Limits`.

Tar entries are untrusted names: they are normalized, an entry with a ``..`` component is
ignored whole, and links are never followed (a symlink or hard link at a path only hides what
lower layers had there). The sha256/sha512 digest of the compressed blob is checked at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterable, Callable, Iterable

from portside.security.analysis import paths
from portside.security.analysis.catalogers import is_interesting, is_large_database
from portside.security.analysis.decompress import open_decompressor
from portside.security.analysis.files import LayerFiles
from portside.security.analysis.limits import LayerRejected, Limits
from portside.security.analysis.tarstream import Kind, TarEntry, TarReader

__all__ = ["LayerFiles", "LayerReader", "read_layer", "read_layer_bytes"]

DEFAULT_LIMITS = Limits()

logger = logging.getLogger(__name__)


class LayerReader:
    """Feed the compressed blob in with :meth:`feed`, then :meth:`finish` for the result."""

    def __init__(
        self,
        digest: str,
        media_type: str,
        *,
        limits: Limits = DEFAULT_LIMITS,
        want: Callable[[str], bool] = is_interesting,
    ) -> None:
        self._digest = digest
        self._limits = limits
        self._want = want
        self._decompressor = open_decompressor(media_type)
        self._tar = TarReader(self._wants_raw, limits, self._is_database_raw)
        self._hash = _hasher(digest)
        self._decompressed = 0
        self._files: dict[str, bytes] = {}
        self._whiteouts: set[str] = set()
        self._opaque: set[str] = set()
        self._replaced: set[str] = set()
        self._last_name, self._last_path = "", paths.normalize("")

    def _normalize(self, name: str) -> str | None:
        """:func:`paths.normalize`, remembering the last name: an entry's name is asked for
        when its header is read and again when it is recorded."""
        if name != self._last_name:
            self._last_name, self._last_path = name, paths.normalize(name)
        return self._last_path

    def _wants_raw(self, name: str) -> bool:
        path = self._normalize(name)
        return path is not None and not paths.is_whiteout_name(path) and self._want(path)

    def _is_database_raw(self, name: str) -> bool:
        path = self._normalize(name)
        return path is not None and is_large_database(path)

    def feed(self, chunk: bytes) -> None:
        if self._hash is not None:
            self._hash.update(chunk)
        for piece in self._decompressor.feed(chunk):
            self._decompressed += len(piece)
            if self._decompressed > self._limits.max_decompressed_bytes:
                raise LayerRejected(
                    f"layer {self._digest} decompresses past max_decompressed_bytes "
                    f"({self._limits.max_decompressed_bytes})",
                    limit="max_decompressed_bytes",
                )
            for entry in self._tar.feed(piece):
                self._record(entry)

    def finish(self) -> LayerFiles:
        self._decompressor.finish()
        self._tar.close()
        if self._hash is not None:
            actual = f"{self._digest.partition(':')[0]}:{self._hash.hexdigest()}"
            if actual != self._digest:
                raise LayerRejected(f"layer {self._digest} has the digest {actual}")
        return LayerFiles(
            digest=self._digest,
            files=self._files,
            whiteouts=frozenset(self._whiteouts),
            opaque_dirs=frozenset(self._opaque),
            replaced=frozenset(self._replaced),
            entries=self._tar.entries,
        )

    def _record(self, entry: TarEntry) -> None:
        path = self._normalize(entry.name)
        if path is None:
            if entry.name.strip("./"):  # not the root: a ".." or NUL name, never extracted
                logger.debug("layer %s: ignored tar entry %r", self._digest, entry.name[:200])
            return
        if paths.is_whiteout_name(path):
            if (directory := paths.opaque_directory(path)) is not None:
                self._opaque.add(directory)
            elif (target := paths.whiteout_target(path)) is not None:
                self._whiteouts.add(target)
            return
        if entry.content is not None:
            self._files[path] = entry.content
            return
        if entry.kind is Kind.DIRECTORY:
            return
        # A file that was of interest is replaced by a file that is not kept, a link, a device:
        self._files.pop(path, None)
        if entry.kind is not Kind.FILE:
            self._replaced.add(path)


def _hasher(digest: str) -> hashlib._Hash | None:
    algorithm = digest.partition(":")[0]
    return hashlib.new(algorithm) if algorithm in ("sha256", "sha512") else None


async def read_layer(
    digest: str,
    media_type: str,
    chunks: AsyncIterable[bytes],
    *,
    limits: Limits = DEFAULT_LIMITS,
    want: Callable[[str], bool] = is_interesting,
) -> LayerFiles:
    """Read a layer blob streamed as ``chunks`` (compressed, as the registry sends them).

    Raises :class:`~portside.security.analysis.limits.LayerRejected` for a layer over a limit,
    corrupt,
    truncated or not matching ``digest``, and its subclass
    :class:`~portside.security.analysis.limits.UnsupportedLayer` for a media type it cannot read.
    """
    reader = LayerReader(digest, media_type, limits=limits, want=want)
    async for chunk in chunks:
        reader.feed(chunk)
        await asyncio.sleep(0)  # decompressing is CPU work: let other tasks run between chunks
    return reader.finish()


def read_layer_bytes(
    digest: str,
    media_type: str,
    chunks: Iterable[bytes],
    *,
    limits: Limits = DEFAULT_LIMITS,
    want: Callable[[str], bool] = is_interesting,
) -> LayerFiles:
    """:func:`read_layer` for a blob already at hand (a file read in chunks, tests)."""
    reader = LayerReader(digest, media_type, limits=limits, want=want)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()
