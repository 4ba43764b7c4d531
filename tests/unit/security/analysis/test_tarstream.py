"""The incremental tar reader against archives written by tarfile, and hand-broken ones."""

from __future__ import annotations

import tarfile

import pytest

from portside.security.analysis.limits import LayerRejected, Limits
from portside.security.analysis.tarstream import Kind, TarEntry, TarReader
from tests.unit.security.analysis.layerkit import Entry, directory, file, hardlink, symlink, tar

LONG = "usr/lib/python3/dist-packages/" + "a-very-long-directory-name/" * 8 + "x.dist-info/METADATA"


def entries_of(
    data: bytes, *, want: str = "METADATA", step: int = 1000, **limits: int
) -> list[TarEntry]:
    reader = TarReader(lambda name: name.endswith(want), Limits(**limits))
    found: list[TarEntry] = []
    for start in range(0, len(data), step):
        found.extend(reader.feed(data[start : start + step]))
    reader.close()
    return found


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("step", [1, 511, 512, 4096, 1 << 20])
def test_reads_every_kind_of_entry_in_any_chunking(fmt: int, step: int) -> None:
    name = LONG if fmt != tarfile.USTAR_FORMAT else "a/b.dist-info/METADATA"
    data = tar(
        [
            directory("a/"),
            file(name, "Name: x\nVersion: 1\n"),
            file("a/skipped.bin", b"\x00" * 1000),
            symlink("a/link", "/etc/passwd"),
            hardlink("a/hard", "a/skipped.bin"),
            file("a/empty.dist-info/METADATA"),
        ],
        fmt=fmt,
    )
    found = entries_of(data, step=step)
    assert [(e.name, e.kind) for e in found] == [
        ("a/", Kind.DIRECTORY),
        (name, Kind.FILE),
        ("a/skipped.bin", Kind.FILE),
        ("a/link", Kind.SYMLINK),
        ("a/hard", Kind.HARDLINK),
        ("a/empty.dist-info/METADATA", Kind.FILE),
    ]
    assert found[1].content == b"Name: x\nVersion: 1\n"
    assert found[2].content is None
    assert found[2].size == 1000
    assert found[3].linkname == "/etc/passwd"
    assert found[3].content is None
    assert found[5].content == b""


def test_ustar_prefix_holds_the_leading_part_of_a_long_name() -> None:
    name = "p" * 120 + "/" + "q.dist-info/METADATA"
    found = entries_of(tar([file(name, "x")], fmt=tarfile.USTAR_FORMAT))
    assert found[0].name == name
    assert found[0].content == b"x"


def test_pax_path_and_gnu_long_names_apply_to_the_next_entry_only() -> None:
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        found = entries_of(tar([file(LONG, "1"), file("short", "2")], fmt=fmt))
        assert [e.name for e in found] == [LONG, "short"]


def test_stream_ending_on_a_header_boundary_without_end_blocks_is_accepted() -> None:
    data = tar([file("a.dist-info/METADATA", "m")], fmt=tarfile.GNU_FORMAT)
    found = entries_of(data[:1024])  # header + data block, no end-of-archive blocks (as Go)
    assert found[0].content == b"m"
    assert entries_of(b"") == []


@pytest.mark.parametrize("cut", [100, 512 + 100, 1536 - 1])
def test_truncated_archive_is_rejected(cut: int) -> None:
    data = tar([file("a.dist-info/METADATA", "m" * 700)], fmt=tarfile.GNU_FORMAT)
    with pytest.raises(LayerRejected, match="truncated tar"):
        entries_of(data[:cut])


def test_a_bad_checksum_is_corruption() -> None:
    data = bytearray(tar([file("a", "x")], fmt=tarfile.GNU_FORMAT))
    data[0] ^= 0x01
    with pytest.raises(LayerRejected, match="checksum"):
        entries_of(bytes(data))


def test_zero_block_then_a_header_is_corruption_and_two_end_the_archive() -> None:
    one = tar([file("a", "x")], fmt=tarfile.GNU_FORMAT)[:1024]
    with pytest.raises(LayerRejected, match="after the end-of-archive"):
        entries_of(one + bytes(512) + one)
    assert len(entries_of(one + bytes(1024) + b"anything after the end is ignored")) == 1


def test_header_only_types_carry_no_data_whatever_the_size_field_says() -> None:
    info = tarfile.TarInfo("a/link")
    info.type = tarfile.SYMTYPE
    info.linkname = "b"
    info.size = 4096  # lies: a symlink has no data
    after = tar([file("b.dist-info/METADATA", "ok")], fmt=tarfile.GNU_FORMAT)
    found = entries_of(info.tobuf(format=tarfile.GNU_FORMAT) + after)
    assert [e.name for e in found] == ["a/link", "b.dist-info/METADATA"]
    assert found[1].content == b"ok"


def test_base256_size_and_malformed_numbers() -> None:
    info = tarfile.TarInfo("big")
    info.size = 9 * 1024**3  # over 8 GiB: only base-256 can say it
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    reader = TarReader(lambda name: False, Limits())
    assert reader.feed(header) == []
    with pytest.raises(LayerRejected, match="truncated"):
        reader.close()
    bad = bytearray(tar([file("a", "x")], fmt=tarfile.GNU_FORMAT)[:512])
    bad[124:136] = b"0o777\x00\x00\x00\x00\x00\x00\x00"
    with pytest.raises(LayerRejected):
        entries_of(bytes(bad))


def test_pax_records_are_parsed_strictly() -> None:
    info = tarfile.TarInfo("x")
    info.pax_headers = {"path": "from/pax/y.dist-info/METADATA", "comment": "a=b c"}
    data = info.tobuf(format=tarfile.PAX_FORMAT) + bytes(1024)
    assert entries_of(data)[0].name == "from/pax/y.dist-info/METADATA"
    broken = bytearray(data)
    record = broken.index(b"path=")
    broken[record - 3 : record - 1] = b"99"  # the record's length now runs past its header
    # the checksum of the pax header is unaffected (it covers the header block, not the data)
    with pytest.raises(LayerRejected, match="PAX"):
        entries_of(bytes(broken))


def test_limits_on_entries_paths_and_kept_files() -> None:
    many = tar([file(f"f{i}") for i in range(20)])
    with pytest.raises(LayerRejected, match="max_files") as info:
        entries_of(many, max_files=10)
    assert info.value.limit == "max_files"

    with pytest.raises(LayerRejected, match="max_path_length"):
        entries_of(tar([file("d/" * 300 + "f")], fmt=tarfile.GNU_FORMAT), max_path_length=200)
    with pytest.raises(LayerRejected, match="max_path_length"):
        entries_of(tar([file("d/" * 300 + "f")], fmt=tarfile.PAX_FORMAT), max_path_length=200)

    big = tar([file("x.dist-info/METADATA", b"m" * 5000)])
    with pytest.raises(LayerRejected, match="max_file_bytes") as info:
        entries_of(big, max_file_bytes=4096)
    assert info.value.path == "x.dist-info/METADATA"

    two = tar([file(f"{i}.dist-info/METADATA", b"m" * 3000) for i in range(2)])
    with pytest.raises(LayerRejected, match="max_kept_bytes"):
        entries_of(two, max_kept_bytes=5000)
    assert len(entries_of(two, max_kept_bytes=6000)) == 2


def test_an_oversized_extended_header_is_refused_before_it_is_read() -> None:
    info = tarfile.TarInfo("x")
    info.pax_headers = {"comment": "c" * 5000}
    with pytest.raises(LayerRejected, match="max_pax_bytes"):
        entries_of(info.tobuf(format=tarfile.PAX_FORMAT), max_pax_bytes=4096)


def test_unknown_types_are_skipped_with_their_data() -> None:
    fifo = Entry("a/fifo", type=tarfile.FIFOTYPE)
    found = entries_of(tar([fifo, file("b.dist-info/METADATA", "ok")]))
    assert found[0].kind is Kind.OTHER
    assert found[1].content == b"ok"
