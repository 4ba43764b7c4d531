"""rpm databases: real headers written by rpm, in SQLite, Berkeley DB and ndb files."""

from __future__ import annotations

import struct

import pytest

from portside.security.analysis.catalog import catalog
from portside.security.analysis.catalogers import rpm
from portside.security.analysis.catalogers.rpmdb import bdb, ndb, sqlite
from portside.security.analysis.catalogers.rpmdb.header import parse_header, source_package
from portside.security.analysis.files import MergedFile
from portside.security.analysis.packages import UnreadableDatabase
from portside.security.packages import OsRelease
from tests.unit.security.analysis.rpmkit import (
    BDB,
    HELLO,
    TINY,
    header,
    ndb_rpmdb,
    sqlite_rpmdb,
)

RHEL = OsRelease(id="rhel", version_id="9.3", id_like=("fedora",))
SQLITE_PATH = "var/lib/rpm/rpmdb.sqlite"


def packages_of(
    path: str, content: bytes, os_release: OsRelease | None = RHEL
) -> list[tuple[str, str, str | None, str | None, str]]:
    found = rpm.catalog({path: MergedFile(content, "sha256:r")}, os_release)
    return [(p.name, p.version, p.source_name, p.source_version, p.purl) for p in found]


EXPECTED = [
    (
        "hello-portside",
        "1:2.12.1-3.el9",
        "hello-portside",
        "1:2.12.1-3.el9",
        "pkg:rpm/redhat/hello-portside@2.12.1-3.el9?arch=x86_64&distro=rhel-9.3&epoch=1",
    ),
    (
        "tiny-lib",
        "0.9-1.fc40",
        "tiny-lib",
        "0.9-1.fc40",
        "pkg:rpm/redhat/tiny-lib@0.9-1.fc40?arch=noarch&distro=rhel-9.3",
    ),
]


def test_real_headers_written_by_rpm() -> None:
    hello = parse_header(HELLO)
    assert (hello.name, hello.epoch, hello.version, hello.release, hello.arch) == (
        "hello-portside",
        1,
        "2.12.1",
        "3.el9",
        "x86_64",
    )
    assert hello.source_rpm == "hello-portside-2.12.1-3.el9.src.rpm"
    tiny = parse_header(TINY)
    assert (tiny.epoch, tiny.arch) == (None, "noarch")
    magic = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"  # as in an .rpm file: accepted too
    assert parse_header(magic + TINY) == tiny


@pytest.mark.parametrize("wal", [True, False])
@pytest.mark.parametrize("path", ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"])
def test_sqlite_rpmdb(path: str, wal: bool) -> None:
    assert packages_of(path, sqlite_rpmdb([HELLO, TINY], wal=wal)) == EXPECTED


def test_berkeley_db_written_by_berkeley_db() -> None:
    assert bdb.is_bdb_hash(BDB)
    found = packages_of("var/lib/rpm/Packages", BDB)
    assert sorted(found) == EXPECTED  # hash order, not install order


def test_ndb() -> None:
    assert packages_of("usr/lib/sysimage/rpm/Packages.db", ndb_rpmdb([HELLO, TINY])) == EXPECTED
    assert len(list(ndb.header_blobs(ndb_rpmdb([TINY] * 300, slot_pages=2)))) == 300


def test_source_rpm_epoch_and_gpg_keys() -> None:
    blobs = [
        header({1000: "gpg-pubkey", 1001: "fd431d51", 1002: "4ae0493b"}),
        header(
            {
                1000: "python3-libs",
                1001: "3.9.18",
                1002: "1.el9",
                1003: 0,
                1022: "x86_64",
                1044: "python3.9-3.9.18-1.el9.src.rpm",
            }
        ),
        header({1000: "orphan", 1001: "1", 1002: "1"}),
    ]
    assert packages_of(SQLITE_PATH, sqlite_rpmdb(blobs), None) == [
        (
            "python3-libs",
            "0:3.9.18-1.el9",
            "python3.9",
            "0:3.9.18-1.el9",
            "pkg:rpm/python3-libs@3.9.18-1.el9?arch=x86_64&epoch=0&upstream=python3.9",
        ),
        ("orphan", "1-1", None, None, "pkg:rpm/orphan@1-1"),
    ]
    assert source_package("bash-5.1.8-6.el9.src.rpm") == ("bash", "5.1.8-6.el9")
    assert source_package("kernel-rt-5.14.0-1.nosrc.rpm") == ("kernel-rt", "5.14.0-1")
    assert source_package("garbage.src.rpm") is None


def test_the_newest_database_of_the_image_is_read() -> None:
    files = {
        "var/lib/rpm/Packages": MergedFile(BDB, "old"),
        "var/lib/rpm/rpmdb.sqlite": MergedFile(sqlite_rpmdb([TINY]), "new"),
    }
    assert [p.name for p in rpm.catalog(files, None)] == ["tiny-lib"]
    assert rpm.catalog({}, None) == []


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x00\x00\x00\x01",
        struct.pack(">ii", 0x7FFFFFFF, 0),  # absurd entry count
        struct.pack(">ii", 1, 16) + struct.pack(">iiii", 1000, 6, 0, 1),  # store past the blob
        header({1000: "x"}, extra=((1001, 6, 500, 1),)),  # offset outside the store
        header({1000: "x", 1001: "1", 1002: "1"}, extra=((1003, 4, 2, 1),)),  # misaligned INT32
        struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1000, 6, 0, 1) + b"abcd",  # no NUL
        header({1001: "1", 1002: "1"}),  # no NAME
        header({1000: "x", 1001: "1", 1002: "1"}, extra=((1022, 99, 0, 1),)),  # unknown type
    ],
)
def test_hostile_headers_make_the_database_unreadable(blob: bytes) -> None:
    with pytest.raises(UnreadableDatabase, match="unreadable"):
        packages_of(SQLITE_PATH, sqlite_rpmdb([HELLO, blob]))


def test_broken_database_files() -> None:
    sqlite_file = sqlite_rpmdb([HELLO])
    with pytest.raises(UnreadableDatabase, match="SQLite"):
        packages_of(SQLITE_PATH, sqlite_file[: len(sqlite_file) // 2] + bytes(10))
    with pytest.raises(ValueError, match="no such table"):
        list(sqlite.header_blobs(sqlite_rpmdb([])[:0] + _sqlite_without_packages()))
    for broken in (BDB[:600], _patched(BDB, 20, struct.pack("<I", 1000)), _overflow_loop(BDB)):
        with pytest.raises(UnreadableDatabase, match="Berkeley DB"):
            packages_of("var/lib/rpm/Packages", broken)
    good = ndb_rpmdb([HELLO])
    for broken in (good[:-1], _patched(good, len(good) - 20, b"\xff"), _patched(good, 32, b"Slox")):
        with pytest.raises(UnreadableDatabase, match="ndb"):
            packages_of("var/lib/rpm/Packages.db", broken)


def test_an_unknown_format_is_a_note_not_silence() -> None:
    files = {
        "var/lib/rpm/Packages": MergedFile(b"\x00" * 4096, "l"),
        "var/lib/dpkg/status": MergedFile(
            b"Package: a\nVersion: 1\nStatus: install ok installed\n", "l"
        ),
    }
    result = catalog(files, None)
    assert [p.name for p in result] == ["a"]
    assert result.notes == [
        "unsupported rpm database format: var/lib/rpm/Packages is not one rpm writes"
    ]


def _patched(data: bytes, offset: int, replacement: bytes) -> bytes:
    return data[:offset] + replacement + data[offset + len(replacement) :]


def _overflow_loop(data: bytes) -> bytes:
    """The BDB fixture with its first overflow chain pointing back at itself."""
    page = 512 * 3  # page 3: the first overflow page (next page number at byte 16)
    return _patched(data, page + 16, struct.pack("<I", 3))


def _sqlite_without_packages() -> bytes:
    import sqlite3

    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE other (x)")
    data = connection.serialize()
    connection.close()
    return data
