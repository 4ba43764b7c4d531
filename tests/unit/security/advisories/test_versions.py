"""OSV range semantics: is version V affected by an ``affected`` entry?"""

import pytest

from portside.security.advisories.osv import Affected, parse_advisory
from portside.security.advisories.versions import (
    Verdict,
    compare_versions,
    compile_affected,
    is_affected,
    order_for,
)

A, N, U = Verdict.AFFECTED, Verdict.NOT_AFFECTED, Verdict.UNDECIDED


def entry(ecosystem: str, *ranges: dict[str, object], versions: tuple[str, ...] = ()) -> Affected:
    record = {
        "id": "TEST-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": "pkg"},
                "ranges": list(ranges),
                "versions": list(versions),
            }
        ],
    }
    return parse_advisory(record).advisory.affected[0]


def events(*pairs: tuple[str, str], kind: str = "ECOSYSTEM") -> dict[str, object]:
    return {"type": kind, "events": [{k: v} for k, v in pairs]}


def verdicts(affected: Affected, versions: str) -> list[Verdict]:
    return [is_affected(affected, v) for v in versions.split()]


def test_introduced_zero_then_fixed() -> None:
    glibc = entry("Debian:12", events(("introduced", "0"), ("fixed", "2.36-9+deb12u3")))
    assert verdicts(
        glibc, "2.28-10 2.36-9 2.36-9+deb12u2 2.36-9+deb12u3 2.36-9+deb12u4 2.37-1"
    ) == [
        A,
        A,
        A,
        N,
        N,
        N,
    ]


def test_introduced_is_included_and_fixed_excluded() -> None:
    requests = entry("PyPI", events(("introduced", "2.3.0"), ("fixed", "2.31.0")))
    assert verdicts(requests, "2.2.1 2.3.0 2.30.0 2.31.0rc1 2.31.0 2.31.1") == [N, A, A, A, N, N]


def test_last_affected_is_included() -> None:
    ip = entry("npm", events(("introduced", "0"), ("last_affected", "2.0.1")))
    assert verdicts(ip, "1.1.8 2.0.0 2.0.1 2.0.2-beta.1 2.0.2") == [A, A, A, N, N]


def test_several_introduced_fixed_pairs_in_one_range() -> None:
    # The OSV specification's "multiple range" example, with the events out of order.
    pkg = entry(
        "npm",
        events(
            ("introduced", "3.0.0"), ("fixed", "1.0.2"), ("fixed", "3.2.5"), ("introduced", "1.0.0"),
            kind="SEMVER",
        ),
    )  # fmt: skip
    assert verdicts(pkg, "0.9.0 1.0.0 1.0.1 1.0.2 2.0.0 3.0.0 3.2.4 3.2.5 4.0.0") == [
        N,
        A,
        A,
        N,
        N,
        A,
        A,
        N,
        N,
    ]


def test_introduced_without_fix_affects_everything_above() -> None:
    pkg = entry("Alpine:v3.20", events(("introduced", "1.2.0-r0")))
    assert verdicts(pkg, "1.1.9-r5 1.2.0_rc1-r0 1.2.0-r0 99-r0") == [N, N, A, A]


def test_introduced_and_fixed_at_the_same_version_is_empty() -> None:
    pkg = entry("PyPI", events(("introduced", "1.0"), ("fixed", "1.0")))
    assert verdicts(pkg, "0.9 1.0 1.1") == [N, N, N]


def test_limit_events_bound_the_range() -> None:
    pkg = entry("PyPI", events(("introduced", "1.0"), ("limit", "2.0")))
    assert verdicts(pkg, "0.9 1.0 1.9 2.0 3.0") == [N, A, A, N, N]
    star = entry("PyPI", events(("introduced", "1.0"), ("limit", "*")))
    assert verdicts(star, "0.9 1.0 3.0") == [N, A, A]


def test_versions_list_matches_exactly_even_without_ranges() -> None:
    pkg = entry("Debian:12", versions=("2.3.9-1", "2.3.9-1+deb12u1"))
    assert verdicts(pkg, "2.3.9-1 2.3.9-1+deb12u1 2.3.9-2") == [A, A, N]


def test_versions_list_works_for_an_ecosystem_without_an_order() -> None:
    pkg = entry("Maven", events(("introduced", "0"), ("fixed", "2.17.1")), versions=("2.14.1",))
    assert verdicts(pkg, "2.14.1") == [A]
    assert verdicts(pkg, "2.15.0") == [U]  # the range cannot be read in Maven's order here


def test_git_ranges_never_match_by_version() -> None:
    sha = "74ea7cf7a6a27a4eeb2ae24e162bcc942a6706d5"
    pkg = entry("PyPI", events(("introduced", "0"), ("fixed", sha), kind="GIT"))
    assert verdicts(pkg, f"0.1 2.0 {sha}") == [N, N, N]


def test_unknown_range_type_is_kept_but_never_matches() -> None:
    pkg = entry("PyPI", events(("introduced", "0"), kind="NEWFANGLED"))
    assert pkg.ranges[0].raw_type == "NEWFANGLED"
    assert verdicts(pkg, "1.0") == [U]


def test_semver_range_uses_semver_order_in_any_ecosystem() -> None:
    # In PEP 440 "1.0.0-rc.1" reads as 1.0.0rc1; as SemVer it is below 1.0.0 as well, but
    # "1.0.0+build" is *equal* to 1.0.0 for SemVer (so fixed), while PEP 440 sorts it above.
    pkg = entry("PyPI", events(("introduced", "0"), ("fixed", "1.0.0"), kind="SEMVER"))
    assert verdicts(pkg, "0.9.0 1.0.0-rc.1 1.0.0+build") == [A, A, N]


def test_invalid_package_version_is_undecided_not_affected() -> None:
    pkg = entry("Debian:12", events(("introduced", "0"), ("fixed", "1.0-1")))
    assert verdicts(pkg, "not-a_version!") == [U]


def test_invalid_boundary_makes_the_range_undecided() -> None:
    pkg = entry("npm", events(("introduced", "0"), ("fixed", "next")))
    compiled = compile_affected(pkg)
    assert "unreadable semver version 'next'" in compiled.ranges[0].problem
    assert verdicts(pkg, "1.0.0") == [U]


def test_one_good_range_still_decides_when_another_is_unreadable() -> None:
    pkg = entry(
        "npm",
        events(("introduced", "0"), ("fixed", "next")),
        events(("introduced", "1.0.0"), ("fixed", "1.2.0")),
    )
    assert verdicts(pkg, "1.1.0") == [A]
    assert verdicts(pkg, "2.0.0") == [U]


def test_dpkg_epochs_and_tildes_in_ranges() -> None:
    pkg = entry("Debian:12", events(("introduced", "0"), ("fixed", "1:2.0-1")))
    assert verdicts(pkg, "3.0-1 1:1.9-1 1:2.0-1~bpo12+1 1:2.0-1") == [A, A, A, N]


def test_rpm_epochs_and_tildes_in_ranges() -> None:
    pkg = entry("Rocky Linux:9", events(("introduced", "0"), ("fixed", "1:2.0-1.el9")))
    assert verdicts(pkg, "9.9-1.el9 1:2.0~rc1-1.el9 1:2.0-1.el9 0:2.34-60.el9") == [A, A, N, A]


def test_fix_hint_is_the_smallest_fix_above_the_version() -> None:
    pkg = entry(
        "npm",
        events(("introduced", "1.0.0"), ("fixed", "1.4.0")),
        events(("introduced", "2.0.0"), ("fixed", "2.1.0")),
    )
    compiled = compile_affected(pkg)
    assert compiled.fix_hint("1.2.0") == "1.4.0"
    assert compiled.fix_hint("2.0.5") == "2.1.0"
    assert compiled.fix_hint("3.0.0") is None
    assert compiled.fix_hint("garbage") is None


def test_order_for_ecosystems() -> None:
    names = {
        eco: getattr(order_for(eco), "name", None)
        for eco in (
            "Debian:12",
            "Ubuntu:22.04:LTS",
            "Alpine:v3.20",
            "Red Hat:enterprise_linux:9::appstream",
            "Rocky Linux:9",
            "AlmaLinux:9",
            "SUSE:Linux Enterprise Server 15 SP5",
            "openSUSE:Leap 15.5",
            "PyPI",
            "npm",
            "Maven",
        )
    }
    assert names == {
        "Debian:12": "dpkg",
        "Ubuntu:22.04:LTS": "dpkg",
        "Alpine:v3.20": "apk",
        "Red Hat:enterprise_linux:9::appstream": "rpm",
        "Rocky Linux:9": "rpm",
        "AlmaLinux:9": "rpm",
        "SUSE:Linux Enterprise Server 15 SP5": "rpm",
        "openSUSE:Leap 15.5": "rpm",
        "PyPI": "pep440",
        "npm": "semver",
        "Maven": None,
    }


def test_compare_versions() -> None:
    assert compare_versions("Debian:12", "1:1.0", "2.0") == 1
    assert compare_versions("Alpine:v3.20", "1.2.3_rc1", "1.2.3") == -1
    assert compare_versions("PyPI", "1.0", "1.0.0") == 0
    with pytest.raises(ValueError, match="no version order"):
        compare_versions("Maven", "1", "2")
    with pytest.raises(ValueError, match="not a valid semver version"):
        compare_versions("npm", "1.0", "1.0.0")
