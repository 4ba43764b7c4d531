"""dpkg status files: real entries of a Debian 12 machine, and a distroless status.d file."""

from __future__ import annotations

import pytest

from portside.security.analysis.catalogers import dpkg
from portside.security.analysis.catalogers.stanzas import stanzas
from portside.security.analysis.files import MergedFile
from portside.security.packages import OsRelease
from tests.unit.security.analysis.layerkit import DATA

DEBIAN_12 = OsRelease(id="debian", version_id="12", version_codename="bookworm")
STATUS = (DATA / "dpkg" / "status").read_bytes()
STATUS_D = (DATA / "dpkg" / "status.d-base-files").read_bytes()
REMOVED = b"""
Package: nano
Status: deinstall ok config-files
Priority: important
Architecture: amd64
Version: 7.2-1+deb12u1
Conffiles:
 /etc/nanorc 3c3a6c1c9d8d1d6b3f4bc2a2a0e0b1a1

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 1.0

Package: held
Status: hold ok installed
Architecture: arm64
Version: 2.0
"""


def test_real_status_file() -> None:
    files = {dpkg.STATUS: MergedFile(STATUS + REMOVED, "sha256:base")}
    found = {p.name: p for p in dpkg.catalog(files, DEBIAN_12)}
    assert sorted(found) == ["base-files", "bash", "bsdutils", "held", "libc6", "tzdata"]
    bash = found["bash"]
    assert (bash.version, bash.source_name, bash.source_version) == (
        "5.2.15-2+b8",
        "bash",
        "5.2.15-2",
    )
    assert (
        bash.purl
        == "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2"
    )
    assert (bash.ecosystem, bash.layer_digest, bash.path) == ("deb", "sha256:base", dpkg.STATUS)
    libc = found["libc6"]
    assert (libc.source_name, libc.source_version) == ("glibc", "2.36-9+deb12u14")
    assert (
        libc.purl
        == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc"
    )
    bsdutils = found["bsdutils"]
    assert bsdutils.version == "1:2.38.1-5+deb12u3"
    assert (bsdutils.source_name, bsdutils.source_version) == ("util-linux", "2.38.1-5+deb12u3")
    assert bsdutils.purl.startswith("pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64")
    tzdata = found["tzdata"]
    assert (tzdata.arch, tzdata.source_name) == ("all", "tzdata")
    assert tzdata.purl == "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12"
    assert (
        found["base-files"].purl
        == "pkg:deb/debian/base-files@12.4%2Bdeb12u11?arch=amd64&distro=debian-12"
    )


def test_distroless_status_d_has_no_status_field() -> None:
    files = {
        "var/lib/dpkg/status.d/base-files": MergedFile(STATUS_D, "sha256:d"),
        "var/lib/dpkg/status.d/libc6": MergedFile(
            b"Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n",
            "sha256:d",
        ),
        "var/lib/dpkg/status.d/libc6.md5sums": MergedFile(b"abc  lib/x.so\n", "sha256:d"),
    }
    packages = dpkg.catalog(files, DEBIAN_12)
    assert [(p.name, p.version, p.path) for p in packages] == [
        ("base-files", "12.4+deb12u11", "var/lib/dpkg/status.d/base-files"),
        ("libc6", "2.36-9+deb12u4", "var/lib/dpkg/status.d/libc6"),
    ]


def test_which_paths_dpkg_reads() -> None:
    assert dpkg.wants("var/lib/dpkg/status")
    assert dpkg.wants("var/lib/dpkg/status.d/zlib1g")
    assert not dpkg.wants("var/lib/dpkg/status.d/zlib1g.md5sums")
    assert not dpkg.wants("var/lib/dpkg/status-old")
    assert not dpkg.wants("var/lib/dpkg/status.d/sub/dir")
    assert not dpkg.wants("var/lib/dpkg/info/bash.list")


def test_stanza_parser_and_damaged_input() -> None:
    parsed = list(
        stanzas("Package: a\nDescription: one\n two\n\tthree\nno colon here\n\n\n\nPackage: b\n")
    )
    assert parsed == [{"package": "a", "description": "one\ntwo\nthree"}, {"package": "b"}]
    assert list(stanzas(" leading continuation\n")) == []
    files = {
        dpkg.STATUS: MergedFile(
            b"\xff\xfe garbage\x00\n\nPackage: x\nStatus: install ok installed\n", "d"
        )
    }
    assert dpkg.catalog(files, None) == []  # no version: not a package
    no_os = dpkg.catalog({dpkg.STATUS: MergedFile(STATUS, "d")}, None)
    assert no_os[1].purl == "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&upstream=bash%405.2.15-2"


def test_same_fields_as_python_debian() -> None:
    deb822 = pytest.importorskip("debian.deb822")
    fields = ("Package", "Version", "Source", "Architecture", "Status", "Installed-Size")
    for sample in (STATUS + REMOVED, STATUS_D):
        expected = [
            {name.lower(): stanza[name] for name in fields if name in stanza}
            for stanza in deb822.Deb822.iter_paragraphs(sample.decode())
        ]
        ours = [
            {name.lower(): stanza[name.lower()] for name in fields if name.lower() in stanza}
            for stanza in stanzas(sample.decode())
        ]
        assert ours == expected
