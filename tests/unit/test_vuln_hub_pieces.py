"""The security hub's pure pieces: findings as rows and the writes that keep them in step,
an advisory's searchable names, a CSV cell that is never a formula, a page's filters."""

from __future__ import annotations

from portside.api.vulnerabilities import cell, csv_line
from portside.security.advisories.osv import parse_advisory
from portside.security.findings_store import aliases_of, plan, rows_of
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
        ]
    )
    assert [key[0][:6] for key in rows] == ["GHSA-1", "GHSA-2", "XXXXXX", "GHSA-3"]
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
