"""OS releases and package types to OSV ecosystems; index keys and name forms."""

import pytest

from portside.security.advisories.ecosystems import (
    family,
    index_ecosystem,
    lookup_ecosystems,
    normalize_name,
    os_ecosystem,
    package_ecosystem,
)
from portside.security.packages import OsRelease


@pytest.mark.parametrize(
    ("release", "ecosystem"),
    [
        (OsRelease("debian", "12", "bookworm"), "Debian:12"),
        (OsRelease("debian", "", "trixie"), "Debian:13"),  # testing has no VERSION_ID
        (OsRelease("debian", "", "sid"), None),
        (OsRelease("ubuntu", "22.04", "jammy"), "Ubuntu:22.04:LTS"),
        (OsRelease("ubuntu", "24.04", "noble"), "Ubuntu:24.04:LTS"),
        (OsRelease("ubuntu", "23.10", "mantic"), "Ubuntu:23.10"),
        (OsRelease("ubuntu", "21.04", "hirsute"), "Ubuntu:21.04"),  # odd year: not LTS
        (OsRelease("alpine", "3.20.3"), "Alpine:v3.20"),
        (OsRelease("alpine", "3.21.0_alpha20240807"), "Alpine:v3.21"),
        (OsRelease("rhel", "9.4"), "Red Hat:enterprise_linux:9"),
        (OsRelease("rocky", "9.3"), "Rocky Linux:9"),
        (OsRelease("almalinux", "8.10"), "AlmaLinux:8"),
        (OsRelease("opensuse-leap", "15.5"), "openSUSE:Leap 15.5"),
        (OsRelease("opensuse-tumbleweed", "20240801"), "openSUSE:Tumbleweed"),
        (
            OsRelease("sles", "15.5", pretty_name="SUSE Linux Enterprise Server 15 SP5"),
            "SUSE:Linux Enterprise Server 15 SP5",
        ),
        (OsRelease("sles", "15.4"), "SUSE:Linux Enterprise Server 15 SP4"),
        (OsRelease("sles", "15"), "SUSE:Linux Enterprise Server 15"),
        (OsRelease("fedora", "40"), None),  # OSV has no Fedora ecosystem
        (OsRelease("ubuntu", ""), None),
        (OsRelease("rocky", ""), None),
        (OsRelease("plan9", "4"), None),
    ],
)
def test_os_ecosystem(release: OsRelease, ecosystem: str | None) -> None:
    assert os_ecosystem(release) == ecosystem


@pytest.mark.parametrize(
    ("kind", "ecosystem"),
    [("pypi", "PyPI"), ("npm", "npm"), ("golang", "Go"), ("cargo", "crates.io"), ("PyPI", "PyPI")],
)
def test_package_ecosystem(kind: str, ecosystem: str) -> None:
    assert package_ecosystem(kind) == ecosystem


def test_unknown_package_type() -> None:
    assert package_ecosystem("conda") is None


def test_family() -> None:
    assert family("Ubuntu:Pro:18.04:LTS") == "Ubuntu"
    assert family("Red Hat:enterprise_linux:9::appstream") == "Red Hat"
    assert family("PyPI") == "PyPI"


def test_index_ecosystem_folds_spellings_of_one_release() -> None:
    assert index_ecosystem("Ubuntu:22.04:LTS") == index_ecosystem("Ubuntu:22.04") == "Ubuntu:22.04"
    assert index_ecosystem("Ubuntu:Pro:18.04:LTS") == "Ubuntu:Pro:18.04"  # ESM stays apart
    rhel9 = "Red Hat:enterprise_linux:9"
    assert index_ecosystem("Red Hat:enterprise_linux:9::appstream") == rhel9
    assert index_ecosystem("Red Hat:enterprise_linux:9::baseos") == rhel9
    assert index_ecosystem(rhel9) == rhel9
    assert index_ecosystem("Red Hat:rhel_eus:9.2::baseos") == "Red Hat:rhel_eus:9.2::baseos"
    assert index_ecosystem("Debian:12") == "Debian:12"


def test_lookup_ecosystems_adds_suse_modules() -> None:
    assert lookup_ecosystems("Debian:12") == ("Debian:12",)
    assert lookup_ecosystems("Ubuntu:22.04:LTS") == ("Ubuntu:22.04",)
    assert lookup_ecosystems("SUSE:Linux Enterprise Server 15 SP5") == (
        "SUSE:Linux Enterprise Server 15 SP5",
        "SUSE:Linux Enterprise Server 15 SP5-LTSS",
        "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
        "SUSE:Linux Enterprise Module for Server Applications 15 SP5",
    )


@pytest.mark.parametrize(
    ("ecosystem", "name", "normal"),
    [
        ("PyPI", "Jinja2", "jinja2"),
        ("PyPI", "zope.interface", "zope-interface"),
        ("PyPI", "Foo__Bar-._baz", "foo-bar-baz"),
        ("npm", "@Scope/Pkg", "@Scope/Pkg"),
        ("Debian:12", "libc6", "libc6"),
    ],
)
def test_normalize_name(ecosystem: str, name: str, normal: str) -> None:
    assert normalize_name(ecosystem, name) == normal
