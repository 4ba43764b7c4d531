"""Distribution detection from os-release and Debian's debian_version."""

from __future__ import annotations

import pytest

from portside.security.analysis.catalogers.osrelease import OsRelease, detect, parse_os_release
from portside.security.analysis.files import MergedFile
from tests.unit.security.analysis.layerkit import DATA


def files(**contents: str) -> dict[str, MergedFile]:
    return {
        path.replace("__", "/").replace("_dash_", "-"): MergedFile(text.encode(), "sha256:l")
        for path, text in contents.items()
    }


def test_real_debian_os_release() -> None:
    found = detect(
        {"usr/lib/os-release": MergedFile((DATA / "dpkg" / "os-release").read_bytes(), "d")}
    )
    assert found == OsRelease(
        id="debian",
        version_id="12",
        version_codename="bookworm",
        pretty_name="Debian GNU/Linux 12 (bookworm)",
    )
    assert found is not None
    assert found.distro == "debian-12"


def test_real_alpine_os_release_and_etc_first() -> None:
    alpine = (DATA / "apk" / "os-release").read_bytes()
    found = detect(
        {
            "etc/os-release": MergedFile(alpine, "a"),
            "usr/lib/os-release": MergedFile(b"ID=fedora\n", "b"),
        }
    )
    assert found is not None
    assert (found.id, found.version_id, found.distro) == ("alpine", "3.19.1", "alpine-3.19.1")


def test_quoting_comments_and_id_like() -> None:
    fields = parse_os_release(
        '# comment\nID="rhel"\nID_LIKE=\'fedora centos\'\nNAME="Red \\"Hat\\""\nBROKEN="x\nVERSION_ID=9.3\n'
    )
    assert fields["ID"] == "rhel"
    assert fields["ID_LIKE"] == "fedora centos"
    assert fields["NAME"] == 'Red "Hat"'
    assert fields["BROKEN"] == "x"
    found = detect(files(etc__os_dash_release='ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.3"\n'))
    assert found is not None
    assert found.id_like == ("fedora",)
    assert found.distro == "rhel-9.3"


@pytest.mark.parametrize(
    ("os_release", "debian_version", "expected"),
    [
        ("", "12.5\n", ("debian", "12", None)),
        ("ID=debian\nVERSION_CODENAME=trixie\n", "trixie/sid\n", ("debian", None, "trixie")),
        ("", "bookworm/sid\n", ("debian", None, "bookworm")),
        ('ID=debian\nVERSION_ID="11"\n', "12.1", ("debian", "11", None)),
        ('ID=ubuntu\nVERSION_ID="22.04"\n', "bookworm/sid", ("ubuntu", "22.04", None)),
    ],
)
def test_debian_version_fallback(
    os_release: str, debian_version: str, expected: tuple[str, str | None, str | None]
) -> None:
    merged = files(etc__debian_version=debian_version)
    if os_release:
        merged |= files(etc__os_dash_release=os_release)
    found = detect(merged)
    assert found is not None
    assert (found.id, found.version_id, found.version_codename) == expected


def test_nothing_to_say() -> None:
    assert detect({}) is None
    assert detect(files(etc__os_dash_release="NAME=nameless\n")) is None
    found = detect(files(etc__os_dash_release="ID=wolfi\n"))
    assert found is not None
    assert found.distro == "wolfi"
