"""Whole images: layers streamed in, merged, and every cataloger run on the result."""

from __future__ import annotations

from portside.security.analysis.catalog import catalog
from portside.security.analysis.catalogers import is_interesting
from portside.security.analysis.catalogers.osrelease import detect
from portside.security.analysis.filesystem import merge
from portside.security.analysis.layers import LayerFiles, read_layer
from portside.security.analysis.packages import Catalog
from tests.unit.security.analysis.layerkit import (
    DATA,
    TAR_GZIP,
    Entry,
    digest,
    directory,
    file,
    gz,
    opaque,
    stream,
    symlink,
    tar,
    whiteout,
)
from tests.unit.security.analysis.rpmkit import HELLO, TINY, sqlite_rpmdb

SITE = "usr/local/lib/python3.11/site-packages"
STATUS = (DATA / "dpkg" / "status").read_bytes()
STATUS_WITHOUT_TZDATA = b"\n\n".join(
    stanza for stanza in STATUS.split(b"\n\n") if not stanza.startswith(b"Package: tzdata")
)
NODE = "app/node_modules"


async def scan(*layers: list[Entry]) -> tuple[Catalog, list[LayerFiles]]:
    read = []
    for entries in layers:
        blob = gz(tar(entries))
        read.append(await read_layer(digest(blob), TAR_GZIP, stream(blob, 4096)))
    files = merge(read)
    return catalog(files, detect(files)), read


async def test_a_debian_image_with_python_and_node_layers() -> None:
    base = [
        directory("etc/"),
        symlink("etc/os-release", "../usr/lib/os-release"),  # as in Debian's own images
        file("usr/lib/os-release", (DATA / "dpkg" / "os-release").read_bytes()),
        file("etc/debian_version", "12.11\n"),
        file("var/lib/dpkg/status", STATUS),
        file("usr/bin/bash", bytes(10_000)),
    ]
    python = [
        file(
            f"{SITE}/pyyaml-6.0.4.dist-info/METADATA",
            (DATA / "python" / "pyyaml-6.0.4.METADATA").read_bytes(),
        ),
        file(f"{SITE}/six-1.16.0.dist-info/METADATA", "Name: six\nVersion: 1.16.0\n"),
        file(f"{NODE}/left-pad/package.json", '{"name": "left-pad", "version": "1.3.0"}'),
    ]
    cleanup = [
        whiteout(f"{SITE}/six-1.16.0.dist-info"),  # pip uninstall six
        directory(NODE),
        opaque(NODE),  # rm -rf node_modules && npm ci
        file(f"{NODE}/@scope/pkg/package.json", '{"name": "@scope/pkg", "version": "0.1.0"}'),
        file("var/lib/dpkg/status", STATUS_WITHOUT_TZDATA),  # dpkg --purge tzdata
    ]
    result, layers = await scan(base, python, cleanup)
    assert result.notes == []
    by_name = {p.name: p for p in result}
    assert set(by_name) == {"base-files", "bash", "libc6", "bsdutils", "pyyaml", "@scope/pkg"}
    assert by_name["bash"].purl == (
        "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12&upstream=bash%405.2.15-2"
    )
    assert by_name["bash"].layer_digest == layers[2].digest  # the status file of the top layer
    assert by_name["pyyaml"].layer_digest == layers[1].digest
    assert by_name["@scope/pkg"].purl == "pkg:npm/%40scope/pkg@0.1.0"


async def test_an_alpine_image() -> None:
    result, _ = await scan(
        [
            file("etc/os-release", (DATA / "apk" / "os-release").read_bytes()),
            file("lib/apk/db/installed", (DATA / "apk" / "installed").read_bytes()),
        ]
    )
    assert [p.purl for p in result][:2] == [
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1",
        "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1",
    ]


async def test_a_fedora_image_whose_rpm_database_a_later_layer_replaces() -> None:
    os_release = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\nVERSION_CODENAME=""\n'
    db = "usr/lib/sysimage/rpm/rpmdb.sqlite"
    result, _ = await scan(
        [file("usr/lib/os-release", os_release), file(db, sqlite_rpmdb([TINY]))],
        [file(db, sqlite_rpmdb([TINY, HELLO]))],
    )
    assert [p.purl for p in result] == [
        "pkg:rpm/fedora/tiny-lib@0.9-1.fc40?arch=noarch&distro=fedora-40",
        "pkg:rpm/fedora/hello-portside@2.12.1-3.el9?arch=x86_64&distro=fedora-40&epoch=1",
    ]


async def test_a_scratch_image_has_nothing() -> None:
    result, _ = await scan([file("app", b"\x7fELF")])
    assert list(result) == []
    assert result.notes == []


def test_files_of_interest() -> None:
    for path in [
        "etc/os-release",
        "usr/lib/os-release",
        "etc/debian_version",
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/libc6",
        "lib/apk/db/installed",
        "var/lib/rpm/Packages",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/Packages.db",
        "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        "opt/venv/lib/python3.12/site-packages/x.egg-info/PKG-INFO",
        "srv/app/node_modules/express/package.json",
    ]:
        assert is_interesting(path), path
    for path in [
        "etc/passwd",
        "var/lib/dpkg/status.d/libc6.md5sums",
        "var/lib/rpm/Packages-old",
        "usr/lib/python3/dist-packages/six.py",
        "srv/app/package.json",
        "var/lib/dpkg/info/bash.list",
    ]:
        assert not is_interesting(path), path
