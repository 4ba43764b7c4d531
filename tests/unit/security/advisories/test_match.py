"""Matching package lists against real advisories."""

import dataclasses
from typing import Any

from portside.security.advisories.match import (
    AdvisoryIndex,
    Finding,
    Placed,
    build_index,
    match_packages,
)
from portside.security.advisories.osv import Advisory, parse_advisory
from portside.security.severity import Severity

from .conftest import record
from .synthetic import placed


def replace(item: Placed, **changes: Any) -> Placed:
    """``item`` with its package's fields changed (``ecosystem``: placed in another)."""
    ecosystem = changes.pop("ecosystem", item.ecosystem)
    return Placed(ecosystem, dataclasses.replace(item.package, **changes))


def found(index: AdvisoryIndex, *packages: Placed) -> list[tuple[str, str, str | None]]:
    """(package name, advisory id, fixed version hint) for each finding."""
    return [
        (f.package.name, f.advisory_id, f.fixed_version)
        for f in match_packages(index, packages).findings
    ]


def test_debian_binary_package_matches_by_source(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    libc6 = placed("Debian:12", "libc6", "2.36-9+deb12u1", "glibc", "2.36-9+deb12u1")
    patched = replace(libc6, version="2.36-9+deb12u3", source_version="2.36-9+deb12u3")
    assert found(index, libc6, patched) == [("libc6", "DSA-5514-1", "2.36-9+deb12u3")]


def test_source_version_is_used_for_binnmus(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    # A binNMU: the binary's version carries "+b1", the source's does not.
    binnmu = placed("Debian:12", "libc-bin", "2.36-9+deb12u3+b1", "glibc", "2.36-9+deb12u2")
    assert found(index, binnmu) == [("libc-bin", "DSA-5514-1", "2.36-9+deb12u3")]


def test_without_a_source_name_the_binary_name_is_used(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    assert found(index, placed("Debian:12", "glibc", "2.36-9")) == [
        ("glibc", "DSA-5514-1", "2.36-9+deb12u3")
    ]
    assert found(index, placed("Debian:12", "libc6", "2.36-9")) == []


def test_unfixed_debian_cve_matches_through_versions_and_ranges(
    real_advisories: list[Advisory],
) -> None:
    index = build_index(real_advisories)
    pkg = placed("Debian:12", "php-league-commonmark", "2.3.9-1+deb12u1")
    assert found(index, pkg) == [("php-league-commonmark", "DEBIAN-CVE-2024-58382", None)]
    trixie = placed("Debian:13", "php-league-commonmark", "2.6.0-1")
    assert found(index, trixie) == []


def test_ubuntu_lts_spellings_match_each_other(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    for ecosystem in ("Ubuntu:22.04:LTS", "Ubuntu:22.04"):
        libc6 = placed(ecosystem, "libc6", "2.35-0ubuntu3.1", "glibc", "2.35-0ubuntu3.1")
        [finding] = match_packages(index, [libc6]).findings
        assert finding.advisory_id == "UBUNTU-CVE-2023-4911"
        assert finding.severity is Severity.HIGH
        assert finding.fixed_version == "2.35-0ubuntu3.4"
        assert finding.cve_ids == ("CVE-2023-4911",)


def test_alpine_subpackage_matches_by_origin(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    client = placed("Alpine:v3.18", "openssh-client-default", "9.3_p1-r3", "openssh", "9.3_p1-r3")
    fixed = replace(client, version="9.3_p2-r0", source_version="9.3_p2-r0")
    other_branch = replace(
        client, ecosystem="Alpine:v3.17", version="9.1_p1-r3", source_version="9.1_p1-r3"
    )
    assert found(index, client, fixed, other_branch) == [
        ("openssh-client-default", "ALPINE-CVE-2023-38408", "9.3_p2-r0")
    ]


def test_pypi_names_are_normalized(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    assert found(index, placed("PyPI", "Jinja2", "3.1.2"), placed("PyPI", "jinja2", "3.1.3")) == [
        ("Jinja2", "GHSA-h5c8-rqwp-cp95", "3.1.3")
    ]


def test_pypi_git_range_is_ignored_and_ecosystem_range_decides(
    real_advisories: list[Advisory],
) -> None:
    index = build_index(real_advisories)
    packages = [placed("PyPI", "requests", v) for v in ("2.2.1", "2.3.0", "2.31.0rc1", "2.31.0")]
    assert found(index, *packages) == [
        ("requests", "PYSEC-2023-74", "2.31.0"),
        ("requests", "PYSEC-2023-74", "2.31.0"),
    ]


def test_npm_advisory_with_one_entry_per_branch(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    versions = ["5.7.1", "5.7.2", "6.3.0", "6.3.1", "7.5.1", "7.5.2"]
    result = match_packages(index, [placed("npm", "semver", v) for v in versions])
    assert [(f.package.version, f.fixed_version) for f in result.findings] == [
        ("5.7.1", "5.7.2"),
        ("6.3.0", "6.3.1"),
        ("7.5.1", "7.5.2"),
    ]
    assert {f.severity for f in result.findings} == {Severity.MEDIUM}


def test_npm_last_affected(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    assert found(index, placed("npm", "ip", "2.0.1"), placed("npm", "ip", "2.0.2")) == [
        ("ip", "GHSA-2p57-rm9w-gvfp", None)
    ]


def test_red_hat_advisories_may_name_binary_rpms(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    common = placed(
        "Red Hat:enterprise_linux:9", "glibc-common", "2.34-60.el9_2.6", "glibc", "2.34-60.el9_2.6"
    )
    [finding] = match_packages(index, [common]).findings  # found by both names, reported once
    assert (finding.advisory_id, finding.fixed_version) == ("RHSA-2023:5455", "0:2.34-60.el9_2.7")
    assert finding.cve_ids == ("CVE-2023-4527", "CVE-2023-4806", "CVE-2023-4911")


def test_rocky_linux(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    glibc = placed("Rocky Linux:9", "glibc", "2.34-60.el9_2.6", "glibc", "2.34-60.el9_2.6")
    patched = replace(glibc, version="2.34-60.el9_2.7", source_version="2.34-60.el9_2.7")
    assert found(index, glibc, patched) == [("glibc", "RLSA-2023:5455", "0:2.34-60.el9_2.7")]


def test_withdrawn_advisories_are_not_indexed() -> None:
    live = parse_advisory(record("GHSA-h5c8-rqwp-cp95")).advisory
    withdrawn = parse_advisory(
        record("GHSA-2p57-rm9w-gvfp") | {"withdrawn": "2024-07-01T00:00:00Z"}
    )
    index = build_index([live, withdrawn.advisory])
    assert (index.advisories, index.withdrawn) == (1, 1)
    assert found(index, placed("npm", "ip", "1.0.0")) == []


def test_undecided_pairs_are_counted_not_reported(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    result = match_packages(index, [placed("PyPI", "jinja2", "not a version")])
    assert (result.findings, result.undecided) == ([], 1)


def test_unreadable_boundaries_are_counted_at_index_time() -> None:
    data = record("GHSA-2p57-rm9w-gvfp")
    data["affected"][0]["ranges"][0]["events"][1] = {"last_affected": "2.0.x"}
    index = build_index([parse_advisory(data).advisory])
    assert index.undecidable_ranges == 1
    result = match_packages(index, [placed("npm", "ip", "2.0.0")])
    assert (result.findings, result.undecided) == ([], 1)


def test_findings_are_grouped_per_package(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    old = placed("Ubuntu:22.04:LTS", "libc6", "2.35-0ubuntu3", "glibc", "2.35-0ubuntu3")
    gnupg = placed("Ubuntu:22.04:LTS", "gpgv", "2.2.27-3ubuntu2.1", "gnupg2", "2.2.27-3ubuntu2.1")
    clean = placed("PyPI", "flask", "3.0.0")
    result = match_packages(index, [clean, old, gnupg])
    assert [(item.package.name, len(item.matches)) for item in result.affected] == [
        ("libc6", 1),
        ("gpgv", 1),
    ]
    assert result.findings[1] == Finding(
        gnupg, "UBUNTU-CVE-2022-3219", (), ("CVE-2022-3219",), Severity.LOW, None
    )


def test_answers_are_memoized_but_stay_correct(real_advisories: list[Advisory]) -> None:
    index = build_index(real_advisories)
    packages = [placed("PyPI", "requests", "2.30.0"), placed("PyPI", "requests", "2.31.0")]
    first = match_packages(index, packages)
    second = match_packages(index, packages)
    assert first == second
    assert len(first.findings) == 1
