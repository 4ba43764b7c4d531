"""The security hub's pure pieces: findings as rows and the writes that keep them in step,
an advisory's searchable names, a CSV cell that is never a formula, a page's filters."""

from __future__ import annotations

from portside.api.vulnerabilities import cell, csv_line
from portside.security.advisories.osv import parse_advisory
from portside.security.findings_store import (
    aliases_of,
    group_key,
    groups_of,
    plan,
    rows_of,
    target_groups,
)
from portside.ui.vulnerabilities import asked, csv_link


def finding(id: str, package: str = "semver", **more: object) -> dict[str, object]:
    return {"id": id, "package": package, "version": "7.5.1", "ecosystem": "npm", **more}


def test_rows_of_findings_one_per_key_sizes_and_severity() -> None:
    shared = finding("GHSA-3", severity="Low")
    rows = rows_of(
        [
            finding("GHSA-1", severity="High", fixed_version="7.5.2"),
            finding("GHSA-1", severity="Low"),  # the same key again (two backends): first kept
            finding("GHSA-2", severity="Dire"),  # an unknown word
            finding("", severity="High"),  # no id: left out
            finding("X" * 300, package="p" * 600, severity="Low"),
            shared,
            finding("GHSA-4", ecosystem=None, version=7, severity="Low"),  # another backend's
        ]
    )
    assert [key[0][:6] for key in rows] == ["GHSA-1", "GHSA-2", "XXXXXX", "GHSA-3", "GHSA-4"]
    assert rows[("GHSA-4", "", "semver", "7")] == (None, "Low")
    assert rows[("GHSA-1", "npm", "semver", "7.5.1")] == ("7.5.2", "High")
    assert rows[("GHSA-2", "npm", "semver", "7.5.1")] == (None, "Unknown")
    long = next(key for key in rows if key[0].startswith("X"))
    assert (len(long[0]), len(long[2])) == (255, 512)
    # The same dicts in several lists (a re-match shares them): the same rows, worked out once.
    memo: dict[int, object] = {}
    assert (
        rows_of([shared], memo)
        == rows_of([shared], memo)
        == {  # type: ignore[arg-type]
            ("GHSA-3", "npm", "semver", "7.5.1"): (None, "Low")
        }
    )
    assert list(memo) == [id(shared)]


def test_groups_split_by_installed_package_and_are_named_by_their_rows() -> None:
    rows = rows_of(
        [
            finding("GHSA-2", severity="High"),
            finding("GHSA-1", severity="Low", fixed_version="7.5.2"),
            finding("GHSA-9", package="minimist", severity="Low"),
        ]
    )
    groups = groups_of(rows)
    assert set(groups) == {("npm", "semver", "7.5.1"), ("npm", "minimist", "7.5.1")}
    semver = groups[("npm", "semver", "7.5.1")]
    assert [row[0][0] for row in semver] == ["GHSA-1", "GHSA-2"]  # sorted, whatever the order
    # The same rows in another order: the same name; a changed fix or severity: another.
    again = groups_of(dict(reversed(list(rows.items()))))[("npm", "semver", "7.5.1")]
    assert group_key(again) == group_key(semver)
    for changed in (
        finding("GHSA-1", severity="Low", fixed_version="7.5.3"),
        finding("GHSA-1", severity="High", fixed_version="7.5.2"),
        finding("GHSA-1", severity="Low", fixed_version=""),  # no fix is not an empty fix
    ):
        other = groups_of(rows_of([changed, finding("GHSA-2", severity="High")]))
        assert group_key(other[("npm", "semver", "7.5.1")]) != group_key(semver)
    assert len(group_key(semver)) == 64


def test_group_names_stay_what_they_were() -> None:
    """Stored groups are found again by name: the name of the same rows never changes from
    one version to the next (these two were computed by the code of commit 6f17a6e)."""
    findings = [
        finding("CVE-2024-2", "openssl", ecosystem="Debian:12", version="3.0.11-1",
                fixed_version="3.0.13-1", severity="High"),
        finding("CVE-2024-1", "openssl", ecosystem="Debian:12", version="3.0.11-1",
                fixed_version=None, severity="Low"),
        finding("GHSA-x", "jinja2", ecosystem="PyPI", version="3.1.2", fixed_version="3.1.3",
                severity="Medium"),
        finding("CVE-2024-1", "jinja2", ecosystem="PyPI", version="3.1.2", fixed_version="3.1.4",
                severity="Dire"),
    ]  # fmt: skip
    assert sorted(group_key(g) for g in groups_of(rows_of(findings)).values()) == [
        "15bbd0065ddb9e684f32536122b3f0c6cf9d9cc0fabda267ee6441214a2c3f03",
        "1ea6ddbea8ead092b81aab9e3a373dc6b1ef48968e9833f51964f52ae053cae5",
    ]


def test_a_target_has_one_group_per_package_even_across_sections() -> None:
    """Sections are worked out once (by id()); a package in two sections (an external
    scanner's findings merged apart) is one group of both, the first row of a key kept."""
    builtin = [finding("GHSA-1", severity="Low")]
    clair = [finding("GHSA-1", severity="High"), finding("CVE-1", severity="High")]
    other = [finding("GHSA-7", package="minimist", severity="Low")]
    by_section: dict[int, object] = {}
    memo: dict[int, object] = {}
    groups = target_groups([builtin, clair, other], by_section, memo)  # type: ignore[arg-type]
    assert len(groups) == 2 and len(by_section) == 3
    both = next(g for g in groups.values() if g[0][0][2] == "semver")
    assert [(key[0], value[1]) for key, value in both] == [("CVE-1", "High"), ("GHSA-1", "Low")]
    # The built-in scanner's section alone (another image): another group.
    alone = target_groups([builtin], by_section, memo)  # type: ignore[arg-type]
    assert not set(alone) & set(groups)
    assert len(by_section) == 3  # its section was worked out before


def test_plan_changes_only_the_links_that_differ() -> None:
    assert plan({1, 2, 3}, {2, 3, 4}) == ([1], [4])
    assert plan(set(), {5, 4}) == ([], [4, 5])
    assert plan({1}, {1}) == ([], [])


def test_an_advisory_is_found_by_its_id_aliases_and_upstream_cve_ids() -> None:
    advisory = parse_advisory(
        {
            "id": "DEBIAN-DSA-1",
            "modified": "2026-01-01T00:00:00Z",
            "aliases": ["GHSA-abcd-efgh-ijkl"],
            "upstream": ["CVE-2024-1", "DLA-9"],
            "related": ["CVE-2024-2"],
            "affected": [],
        }
    ).advisory
    assert aliases_of(advisory) == {
        "debian-dsa-1": "DEBIAN-DSA-1",
        "ghsa-abcd-efgh-ijkl": "GHSA-abcd-efgh-ijkl",
        "cve-2024-1": "CVE-2024-1",
        "cve-2024-2": "CVE-2024-2",
    }


def test_a_csv_cell_is_never_a_formula() -> None:
    assert cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    for text in ("+1", "-1", "@SUM(A1)", "\tx"):
        assert cell(text).startswith("'")
    assert (cell(None), cell(True), cell(3), cell("libc6")) == ("", "yes", "3", "libc6")
    assert csv_line(["a,b", 'say "hi"']) == '"a,b","say ""hi"""\r\n'


def test_a_pages_filters_keep_what_is_valid_and_say_what_is_not() -> None:
    found = asked(" CVE-2021-44228 ", "log4j-core", "High", "yes", "team-a", "team-a/app")
    assert found.problems == []
    assert found.where.q == "CVE-2021-44228" and found.where.fixable is True
    assert found.params["fixable"] == "yes"
    assert csv_link("/x.csv", found.params).endswith(
        "fixable=true&namespace=team-a&repository=team-a%2Fapp"
    )
    bad = asked("<script>", "a b", "Dire", "maybe", "Bad/NS", "UPPER")
    assert bad.where == type(bad.where)()  # nothing kept
    assert len(bad.problems) == 4  # severity and fixable are choices: silently ignored
    assert asked("", "  ", None, None, None, None).problems == []
