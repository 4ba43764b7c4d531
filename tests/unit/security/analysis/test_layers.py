"""Reading whole layer blobs: what is kept, what is recorded, and hostile layers refused fast."""

from __future__ import annotations

import random
import tarfile
import time
import tracemalloc

import pytest

from portside.security.analysis.layers import read_layer, read_layer_bytes
from portside.security.analysis.limits import LayerRejected, Limits, UnsupportedLayer
from tests.unit.security.analysis.layerkit import (
    TAR,
    TAR_GZIP,
    TAR_ZSTD,
    Entry,
    digest,
    directory,
    file,
    gz,
    gzip_zeros_bomb,
    hardlink,
    opaque,
    read,
    stream,
    symlink,
    tar,
    whiteout,
    zst,
)

STATUS = "var/lib/dpkg/status"
METADATA = "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"

IMAGE_ROOT = [
    directory("./"),
    directory("./etc/"),
    file("./etc/os-release", 'ID=debian\nVERSION_ID="12"\n'),
    file("./etc/passwd", "root:x:0:0::/root:/bin/bash\n"),
    file(f"./{STATUS}", "Package: bash\n"),
    file(f"./{STATUS}-old", "Package: old\n"),
    file(f"./{METADATA}", "Name: six\nVersion: 1.16.0\n"),
    file("./usr/bin/bash", b"\x7fELF" + bytes(5000)),
]


async def test_read_layer_streams_a_gzip_blob_and_keeps_only_files_of_interest() -> None:
    blob = gz(tar(IMAGE_ROOT))
    layer = await read_layer(digest(blob), TAR_GZIP, stream(blob, 1000))
    assert layer.digest == digest(blob)
    assert layer.files == {
        "etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
        STATUS: b"Package: bash\n",
        METADATA: b"Name: six\nVersion: 1.16.0\n",
    }
    assert layer.whiteouts == layer.opaque_dirs == layer.replaced == frozenset()
    assert layer.entries == len(IMAGE_ROOT)


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_plain_tar_in_every_format(fmt: int) -> None:
    layer = read(tar(IMAGE_ROOT, fmt=fmt), TAR, chunk=512)
    assert set(layer.files) == {"etc/os-release", STATUS, METADATA}


def test_zstd_layer() -> None:
    pytest.importorskip("zstandard")
    layer = read(zst(tar(IMAGE_ROOT)), TAR_ZSTD)
    assert set(layer.files) == {"etc/os-release", STATUS, METADATA}


def test_whiteouts_and_opaque_directories_are_recorded_not_kept() -> None:
    layer = read(
        gz(
            tar(
                [
                    whiteout("usr/lib/python3/dist-packages/six-1.16.0.dist-info"),
                    whiteout("etc/os-release"),
                    opaque("usr/local/lib/node_modules"),
                    opaque(""),  # hides the whole of the lower layers
                    file("usr/.wh..wh.plnk/123.456"),  # aufs metadata: nothing
                    file("usr/.wh."),
                    file("usr/.wh..."),
                ]
            )
        )
    )
    assert layer.files == {}
    assert layer.whiteouts == {
        "usr/lib/python3/dist-packages/six-1.16.0.dist-info",
        "etc/os-release",
    }
    assert layer.opaque_dirs == {"usr/local/lib/node_modules", ""}


def test_links_are_never_followed_and_hide_what_was_there() -> None:
    layer = read(
        gz(
            tar(
                [
                    file("etc/passwd", "secret"),
                    symlink("etc/os-release", "../usr/lib/os-release"),
                    symlink(STATUS, "/etc/passwd"),
                    symlink("lib", "/"),  # a file "through" it is just a path in the image
                    file("lib/apk/db/installed", "P:musl\nV:1.2.4-r2\n"),
                    hardlink(METADATA, "etc/passwd"),
                    Entry("var/lib/rpm/Packages", type=tarfile.FIFOTYPE),
                ]
            )
        )
    )
    assert layer.files == {"lib/apk/db/installed": b"P:musl\nV:1.2.4-r2\n"}
    assert layer.replaced == {"etc/os-release", STATUS, "lib", METADATA, "var/lib/rpm/Packages"}


def test_a_later_entry_for_the_same_path_wins_within_a_layer() -> None:
    layer = read(
        gz(
            tar(
                [
                    file(STATUS, "first"),
                    file(STATUS, "second"),
                    file("etc/os-release", "ID=alpine"),
                    symlink("etc/os-release", "../usr/lib/os-release"),
                ]
            )
        )
    )
    assert layer.files == {STATUS: b"second"}
    assert layer.replaced == {"etc/os-release"}


def test_path_traversal_is_ignored_and_absolute_paths_stay_in_the_image() -> None:
    layer = read(
        gz(
            tar(
                [
                    file("../../etc/os-release", "ID=evil"),
                    file("etc/../../var/lib/dpkg/status", "evil"),
                    file("./a/../../lib/apk/db/installed", "P:evil"),
                    whiteout("../../etc/os-release"),
                    file("/usr/lib/os-release", "ID=alpine\n"),
                    file("//etc///debian_version", "12.5\n"),
                ]
            )
        )
    )
    assert layer.files == {"usr/lib/os-release": b"ID=alpine\n", "etc/debian_version": b"12.5\n"}
    assert layer.whiteouts == frozenset()


def test_an_empty_layer() -> None:
    assert read(gz(tar([]))).files == {}
    assert read(gz(b"\x00" * 1024)).files == {}


def test_tar_bomb_of_one_huge_compressible_file_is_stopped_at_the_limit() -> None:
    blob = gzip_zeros_bomb(256 << 20)  # 256 MiB of zeros in ~256 KiB
    assert len(blob) < 1 << 20
    limits = Limits(max_decompressed_bytes=16 << 20)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(LayerRejected, match="max_decompressed_bytes") as info:
            read(blob, limits=limits, chunk=64 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.limit == "max_decompressed_bytes"
    assert time.monotonic() - started < 5
    assert peak < 4 << 20  # pieces stream through; nothing near 16 MiB is held


def test_tar_bomb_of_many_files_is_stopped_at_the_limit() -> None:
    blob = gz(tar([file(f"d/{i}") for i in range(2000)]))
    with pytest.raises(LayerRejected, match="max_files"):
        read(blob, limits=Limits(max_files=1000))


def test_a_huge_metadata_file_is_refused_by_name() -> None:
    blob = gz(tar([Entry(METADATA, size=3 << 20)]))
    with pytest.raises(LayerRejected, match="max_file_bytes") as info:
        read(blob, limits=Limits(max_file_bytes=1 << 20))
    assert info.value.path == METADATA
    assert METADATA in str(info.value)


def test_rpm_databases_have_their_own_size_limit() -> None:
    blob = gz(tar([Entry("var/lib/rpm/Packages", size=2 << 20)]))
    limits = Limits(max_file_bytes=1 << 20, max_database_bytes=4 << 20)
    assert len(read(blob, limits=limits).files["var/lib/rpm/Packages"]) == 2 << 20
    with pytest.raises(LayerRejected, match="max_database_bytes") as info:
        read(blob, limits=Limits(max_database_bytes=1 << 20))
    assert info.value.path == "var/lib/rpm/Packages"


def test_huge_files_not_of_interest_are_skipped_unread() -> None:
    blob = gz(tar([Entry("usr/share/big.bin", size=8 << 20), file(STATUS, "ok")]))
    assert read(blob, limits=Limits(max_file_bytes=1 << 20)).files == {STATUS: b"ok"}


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_gzip_layer_is_rejected(keep: float) -> None:
    blob = gz(tar([*IMAGE_ROOT, file("x.bin", random.Random(4).randbytes(50000))]))
    with pytest.raises(LayerRejected, match="truncated"):
        read(blob[: int(len(blob) * keep)])


def test_truncated_plain_tar_layer_is_rejected() -> None:
    raw = tar(IMAGE_ROOT)
    with pytest.raises(LayerRejected, match="truncated tar"):
        read(raw[: len(raw) // 2 + 100], TAR)


@pytest.mark.parametrize("media_type", [TAR_GZIP, TAR])
def test_garbage_is_rejected(media_type: str) -> None:
    garbage = random.Random(5).randbytes(100_000)
    with pytest.raises(LayerRejected, match="corrupt"):
        read(garbage, media_type)
    with pytest.raises(LayerRejected, match="corrupt"):
        read(gz(garbage), TAR_GZIP)  # valid gzip around something that is not a tar


def test_a_blob_that_does_not_match_its_digest_is_rejected() -> None:
    blob = gz(tar(IMAGE_ROOT))
    with pytest.raises(LayerRejected, match="has the digest"):
        read_with_digest(blob, digest(blob + b"x"))


def test_unknown_media_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedLayer):
        read(b"{}", "application/vnd.oci.image.config.v1+json")


def read_with_digest(blob: bytes, claimed: str) -> object:
    return read_layer_bytes(claimed, TAR_GZIP, [blob])
