"""The apk database of Alpine."""

from __future__ import annotations

from portside.security.analysis.catalogers import apk
from portside.security.analysis.files import MergedFile
from portside.security.packages import OsRelease
from tests.unit.security.analysis.layerkit import DATA

ALPINE = OsRelease(id="alpine", version_id="3.19.1")
INSTALLED = (DATA / "apk" / "installed").read_bytes()


def test_installed_database() -> None:
    packages = apk.catalog({"lib/apk/db/installed": MergedFile(INSTALLED, "sha256:a")}, ALPINE)
    assert [(p.name, p.version, p.source_name, p.arch) for p in packages] == [
        ("musl", "1.2.4_git20230717-r4", "musl", "x86_64"),
        ("busybox", "1.36.1-r15", "busybox", "x86_64"),
        ("libcrypto3", "3.1.4-r5", "openssl", "x86_64"),
        ("ssl_client", "1.36.1-r15", "busybox", "x86_64"),
    ]
    assert (
        packages[0].purl
        == "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1"
    )
    assert packages[2].purl == (
        "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl"
    )
    assert {
        (p.ecosystem, p.path, p.layer_digest, p.source_version == p.version) for p in packages
    } == {("apk", "lib/apk/db/installed", "sha256:a", True)}


def test_records_without_name_or_version_and_crlf() -> None:
    text = b"P:nameonly\r\n\r\nV:1.0\n\nC:x\nP:ok\nV:2.0-r0\nP:ignored-second\n"
    packages = apk.catalog({"lib/apk/db/installed": MergedFile(text, "l")}, None)
    assert [(p.name, p.version, p.purl) for p in packages] == [
        ("ok", "2.0-r0", "pkg:apk/alpine/ok@2.0-r0")
    ]
    assert apk.catalog({}, None) == []
