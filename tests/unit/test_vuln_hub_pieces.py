"""The security hub's pure pieces: findings as rows and the writes that keep them in step,
an advisory's searchable names, a CSV cell that is never a formula, a page's filters."""

from __future__ import annotations

from portside.api.vulnerabilities import cell, csv_line
from portside.security.advisories.osv import parse_advisory
from portside.security.findings_store import Row, aliases_of, plan, rows_of
from portside.ui.vulnerabilities import asked, csv_link


def finding(id: str, package: str = "semver", **more: object) -> dict[str, object]:
    return {"id": id, "package": package, "version": "7.5.1", "ecosystem": "npm", **more}


def test_rows_of_findings_one_per_key_sizes_and_severity() -> None:
    rows = rows_of(
        [
            finding("GHSA-1", severity="High", fixed_version="7.5.2"),
            finding("GHSA-1", severity="Low"),  # the same key again (two backends): first kept
            finding("GHSA-2", severity="Dire"),  # an unknown word
            finding("", severity="High"),  # no id: left out
            finding("X" * 300, package="p" * 600, severity="Low"),
        ]
    )
    assert [r.advisory_id[:6] for r in rows.values()] == ["GHSA-1", "GHSA-2", "XXXXXX"]
    first = rows[("GHSA-1", "npm", "semver", "7.5.1")]
    assert (first.severity, first.fixed_version) == ("High", "7.5.2")
    assert rows[("GHSA-2", "npm", "semver", "7.5.1")].severity == "Unknown"
    long = next(r for r in rows.values() if r.advisory_id.startswith("X"))
    assert (len(long.advisory_id), len(long.package)) == (255, 512)


def test_plan_keeps_unchanged_rows_and_updates_in_place() -> None:
    kept = Row("A", "npm", "x", "1", "2", "High")
    changed = Row("B", "npm", "x", "1", "3", "High")  # a later fix
    new = Row("C", "npm", "x", "1", None, "Low")
    existing = {
        kept.key: (1, "2", "High"),
        changed.key: (2, "2", "High"),
        ("D", "npm", "x", "1"): (3, None, "Low"),  # gone
    }
    writes = plan(existing, {r.key: r for r in (kept, changed, new)})
    assert writes.delete == [3]
    assert writes.insert == [new]
    assert writes.update == [(2, changed)]
    assert plan(existing, {}).delete == [1, 2, 3]
    nothing = plan({kept.key: (1, "2", "High")}, {kept.key: kept})
    assert (nothing.delete, nothing.insert, nothing.update) == ([], [], [])


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
