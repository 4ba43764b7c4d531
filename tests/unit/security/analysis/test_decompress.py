"""Streaming decompression: whole streams, bombs in bounded pieces, truncation, garbage."""

from __future__ import annotations

import gzip
import random
import sys

import pytest

from portside.security.analysis.decompress import (
    GZIP_PIECE,
    compression_of,
    open_decompressor,
)
from portside.security.analysis.limits import LayerRejected, UnsupportedLayer
from tests.unit.security.analysis.layerkit import DOCKER_GZIP, TAR, TAR_GZIP, TAR_ZSTD, pieces, zst

GARBAGE = random.Random(7).randbytes(10_000)


def decompress(media_type: str, blob: bytes, step: int = 333) -> bytes:
    decompressor = open_decompressor(media_type)
    out = b"".join(piece for chunk in pieces(blob, step) for piece in decompressor.feed(chunk))
    decompressor.finish()
    return out


def test_media_types() -> None:
    assert compression_of(TAR_GZIP) == "gzip"
    assert compression_of(DOCKER_GZIP) == "gzip"
    assert compression_of("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == "gzip"
    assert compression_of(TAR) == "tar"
    assert compression_of(TAR_ZSTD.upper()) == "zstd"
    with pytest.raises(UnsupportedLayer, match="not a layer media type"):
        compression_of("application/vnd.in-toto+json")


def test_gzip_whole_and_multi_member() -> None:
    data = random.Random(1).randbytes(300_000)
    assert decompress(TAR_GZIP, gzip.compress(data)) == data
    assert decompress(TAR_GZIP, gzip.compress(b"abc") + gzip.compress(b"def"), step=5) == b"abcdef"


def test_gzip_bomb_comes_out_in_bounded_pieces() -> None:
    blob = gzip.compress(bytes(64 << 20), compresslevel=9)  # 64 MiB from ~64 KiB
    decompressor = open_decompressor(TAR_GZIP)
    sizes = [len(piece) for piece in decompressor.feed(blob)]
    decompressor.finish()
    assert max(sizes) <= GZIP_PIECE
    assert sum(sizes) == 64 << 20


@pytest.mark.parametrize("cut", [5, 100, -9, -1])
def test_truncated_gzip_is_rejected(cut: int) -> None:
    blob = gzip.compress(random.Random(2).randbytes(5000))
    with pytest.raises(LayerRejected, match="truncated gzip"):
        decompress(TAR_GZIP, blob[:cut])


@pytest.mark.parametrize("media_type", [TAR_GZIP, DOCKER_GZIP])
def test_garbage_and_empty_gzip_are_rejected(media_type: str) -> None:
    with pytest.raises(LayerRejected, match="corrupt gzip"):
        decompress(media_type, GARBAGE)
    with pytest.raises(LayerRejected, match="empty"):
        decompress(media_type, b"")
    with pytest.raises(LayerRejected, match="corrupt gzip"):
        decompress(media_type, gzip.compress(b"ok") + b"trailing junk")


def test_plain_tar_passes_through() -> None:
    assert decompress(TAR, b"x" * 1000) == b"x" * 1000


def test_zstd_without_the_package_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes the import fail
    with pytest.raises(UnsupportedLayer, match="zstandard"):
        open_decompressor(TAR_ZSTD)


def test_zstd_frames_skippable_frames_truncation_and_garbage() -> None:
    pytest.importorskip("zstandard")
    data = random.Random(3).randbytes(200_000)
    skippable = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"toc!"
    blob = zst(data[:100_000]) + skippable + zst(data[100_000:])
    assert decompress(TAR_ZSTD, blob) == data
    with pytest.raises(LayerRejected, match="truncated zstd"):
        decompress(TAR_ZSTD, blob[:-3])
    with pytest.raises(LayerRejected, match="corrupt zstd"):
        decompress(TAR_ZSTD, GARBAGE)
    with pytest.raises(LayerRejected, match="empty"):
        decompress(TAR_ZSTD, b"")


def test_zstd_bomb_comes_out_in_bounded_pieces() -> None:
    pytest.importorskip("zstandard")
    blob = zst(bytes(256 << 20))  # 256 MiB from ~8 KiB
    assert len(blob) < 64 * 1024
    decompressor = open_decompressor(TAR_ZSTD)
    biggest = total = 0
    for piece in decompressor.feed(blob):
        biggest, total = max(biggest, len(piece)), total + len(piece)
    decompressor.finish()
    assert total == 256 << 20
    assert biggest <= 40 << 20
