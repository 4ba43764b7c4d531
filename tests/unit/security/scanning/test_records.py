"""The storage boundary: packages and OS releases to the stored JSON and back, unchanged."""

from portside.security.packages import OsRelease, Package
from portside.security.scanning.records import (
    os_of,
    os_record,
    package_of,
    package_record,
    packages_of,
)

LIBC6 = Package(
    name="libc6",
    version="2.36-9+deb12u2",
    ecosystem="deb",
    purl="pkg:deb/debian/libc6@2.36-9%2Bdeb12u2?arch=amd64&distro=debian-12",
    layer_digest="sha256:" + "a" * 64,
    path="var/lib/dpkg/status",
    source_name="glibc",
    source_version="2.36-9+deb12u2",
    arch="amd64",
)


def test_the_stored_package_format_is_unchanged() -> None:
    assert package_record(LIBC6) == {
        "name": "libc6",
        "version": "2.36-9+deb12u2",
        "ecosystem": "deb",
        "purl": LIBC6.purl,
        "source_name": "glibc",
        "source_version": "2.36-9+deb12u2",
        "arch": "amd64",
        "layer": "sha256:" + "a" * 64,
        "path": "var/lib/dpkg/status",
    }


def test_a_package_reads_back_as_it_was_stored() -> None:
    assert package_of(package_record(LIBC6)) == LIBC6


def test_a_record_without_name_version_or_type_is_left_out() -> None:
    good = package_record(LIBC6)
    assert packages_of([good, {"name": "x", "version": 1, "ecosystem": "deb"}, {}]) == [LIBC6]


def test_os_release_round_trip() -> None:
    debian = OsRelease("debian", "12", "bookworm", "Debian GNU/Linux 12 (bookworm)")
    assert os_record(debian) == {
        "id": "debian",
        "version_id": "12",
        "version_codename": "bookworm",
        "pretty_name": "Debian GNU/Linux 12 (bookworm)",
    }
    assert os_of(os_record(debian)) == debian
    assert os_record(None) is None and os_of(None) is None
