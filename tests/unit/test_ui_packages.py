"""The tag page's package table (pure): each package's findings matched by the key the matcher
records (OSV ecosystem, name, version), vulnerable packages first, the name filter."""

from __future__ import annotations

from typing import Any

from portside.security.advisories.match import Placed
from portside.security.packages import Package
from portside.security.scanning.matching import finding_key, osv_packages, package_key
from portside.security.scanning.records import os_of, packages_of
from portside.ui.findings import MAX_PACKAGE_QUERY, package_query, package_table

DEBIAN_12 = {"id": "debian", "version_id": "12", "version_codename": "bookworm"}


def package(name: str, version: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": version, "ecosystem": kind, "purl": "", **extra}


def finding(ident: str, severity: str, name: str, version: str, ecosystem: str) -> dict[str, Any]:
    """As :func:`portside.security.scanning.matching._finding` records it."""
    return {
        "id": ident,
        "severity": severity,
        "package": name,
        "version": version,
        "ecosystem": ecosystem,
        "fixed_version": None,
    }


PACKAGES = [
    package("apt", "2.6.1", "deb"),
    package("libc6", "2.36-9+deb12u2", "deb", source_name="glibc"),
    package("Jinja2", "3.1.2", "pypi"),
    package("semver", "7.5.1", "npm"),
    package("zlib1g", "1:1.2.13.dfsg-1", "deb"),
]
FINDINGS = [
    finding("DSA-5514-1", "High", "libc6", "2.36-9+deb12u2", "Debian:12"),
    finding("GHSA-h5c8-rqwp-cp95", "Medium", "Jinja2", "3.1.2", "PyPI"),
    finding("PYSEC-2024-0001", "Low", "Jinja2", "3.1.2", "PyPI"),
    finding("GHSA-c2qf-rxjj-qqgw", "Critical", "semver", "7.5.1", "npm"),
]


def counts(table: Any) -> dict[str, int]:
    return {row.name: row.findings for row in table.rows}


def test_a_deb_package_counts_its_finding_recorded_under_debian_12() -> None:
    table = package_table(DEBIAN_12, PACKAGES, FINDINGS)
    assert counts(table) == {"semver": 1, "libc6": 1, "Jinja2": 2, "apt": 0, "zlib1g": 0}
    assert (table.total, table.vulnerable) == (5, 3)


def test_vulnerable_packages_come_first_worst_first() -> None:
    table = package_table(DEBIAN_12, PACKAGES, FINDINGS)
    assert [(r.name, r.worst) for r in table.rows] == [
        ("semver", "Critical"),
        ("libc6", "High"),
        ("Jinja2", "Medium"),
        ("apt", None),
        ("zlib1g", None),
    ]


def test_the_key_is_the_matchers_own() -> None:
    """The page keys packages as the matcher's findings record them: one mapping, not two."""
    matched = osv_packages(os_of(DEBIAN_12), packages_of(PACKAGES))
    assert [package_key(p) for p in matched][:3] == [
        ("Debian:12", "apt", "2.6.1"),
        ("Debian:12", "libc6", "2.36-9+deb12u2"),
        ("PyPI", "Jinja2", "3.1.2"),
    ]
    assert finding_key(FINDINGS[0]) == package_key(matched[1])
    assert isinstance(matched[0], Placed)
    assert isinstance(matched[0].package, Package)


def test_a_finding_counts_only_for_its_own_package() -> None:
    other_version = finding("DSA-0000-1", "High", "libc6", "2.36-9+deb12u3", "Debian:12")
    npm_named_like_a_deb = finding("GHSA-0000", "High", "apt", "2.6.1", "npm")
    table = package_table(
        DEBIAN_12,
        [*PACKAGES, package("apt", "2.6.1", "npm")],
        [
            other_version,
            npm_named_like_a_deb,
        ],
    )
    first = table.rows[0]
    assert (first.name, first.ecosystem, first.findings) == ("apt", "npm", 1)
    assert sum(r.findings for r in table.rows) == 1
    # A finding naming no OSV ecosystem any package has (a Harbor adapter's) counts by name
    # and version.
    harbor = finding("CVE-2023-4911", "High", "libc6", "2.36-9+deb12u2", "harbor-adapter")
    assert counts(package_table(DEBIAN_12, PACKAGES, [harbor]))["libc6"] == 1


def test_without_an_os_a_deb_package_counts_by_name_and_version() -> None:
    """A backend's Debian finding on an image whose OS Portside did not recognise."""
    table = package_table(None, PACKAGES, FINDINGS)
    assert counts(table)["Jinja2"] == 2 and counts(table)["libc6"] == 1


def test_the_filter_is_a_bounded_name_substring() -> None:
    table = package_table(DEBIAN_12, PACKAGES, FINDINGS, "jinja")
    assert [r.name for r in table.rows] == ["Jinja2"]
    assert (table.total, table.vulnerable, table.query) == (5, 3, "jinja")
    assert package_table(DEBIAN_12, PACKAGES, FINDINGS, "nothing").rows == []
    assert package_query("  lib ") == "lib"
    assert package_query(None) == ""
    assert len(package_query("x" * 10_000)) == MAX_PACKAGE_QUERY


def test_malformed_records_count_nothing() -> None:
    odd = [{"name": None, "version": 3}, {}]
    table = package_table(DEBIAN_12, odd, [{"package": None}])
    assert [r.findings for r in table.rows] == [0, 0]
