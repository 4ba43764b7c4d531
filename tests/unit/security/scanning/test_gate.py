"""The gate of `portside scan --fail-on SEVERITY [--ignore-unfixed]` on a report (pure), and
how the command prints it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portside.security.scanning import gate
from portside.security.scanning.render import finish
from tests.unit.security.scanning.test_render import report


def finding(severity: str, fixed: str | None = "1.1", name: str = "pkg") -> dict[str, Any]:
    return {
        "id": f"ID-{severity}-{name}-{fixed}",
        "severity": severity,
        "package": name,
        "version": "1.0",
        "ecosystem": "PyPI",
        "fixed_version": fixed,
        "aliases": [],
        "links": [],
    }


FINDINGS = [
    finding("Critical"),
    finding("Critical", fixed=None),
    finding("High", name="other"),
    finding("Medium", fixed=None),
    finding("Unknown"),
    finding("Negligible"),
]


@pytest.mark.parametrize(
    ("word", "level"),
    [("high", "High"), ("HIGH", "High"), (" Critical ", "Critical"), ("defcon1", "Defcon1")],
)
def test_levels_are_read_in_any_case(word: str, level: str) -> None:
    assert gate.parse_level(word) == level


def test_a_wrong_level_lists_the_accepted_ones() -> None:
    with pytest.raises(ValueError, match="Defcon1, Critical, High, Medium, Low, Unknown, Negl"):
        gate.parse_level("severe")


@pytest.mark.parametrize(
    ("fail_on", "failing"),
    [
        ("Defcon1", {}),
        ("Critical", {"Critical": 2}),
        ("High", {"Critical": 2, "High": 1}),
        ("Low", {"Critical": 2, "High": 1, "Medium": 1}),
        # Portus's order: Unknown is worse than Negligible.
        ("Unknown", {"Critical": 2, "High": 1, "Medium": 1, "Unknown": 1}),
        ("Negligible", {"Critical": 2, "High": 1, "Medium": 1, "Unknown": 1, "Negligible": 1}),
    ],
)
def test_the_gate_counts_findings_at_or_above_the_threshold(
    fail_on: str, failing: dict[str, int]
) -> None:
    verdict = gate.decide(FINDINGS, fail_on)
    assert verdict.failing == failing
    assert list(verdict.failing) == [level for level in gate.LEVELS if level in failing]
    assert verdict.exit_code == (1 if failing else 0)


def test_ignore_unfixed_leaves_findings_without_a_fix_out_of_the_gate() -> None:
    verdict = gate.decide(FINDINGS, "Medium", ignore_unfixed=True)
    assert verdict.failing == {"Critical": 1, "High": 1}
    assert verdict.unfixed_left_out == 2
    only_unfixed = [finding("Critical", fixed=None), finding("High", fixed="  ")]
    assert gate.decide(only_unfixed, "Low", ignore_unfixed=True).passed


def test_an_unknown_severity_word_is_unknown() -> None:
    odd = [{"severity": "Severe"}, {"severity": None}, {}]
    assert gate.decide(odd, "Unknown").failing == {"Unknown": 3}
    assert gate.decide(odd, "Low").passed


def test_the_verdict_line() -> None:
    assert gate.decide(FINDINGS, "High").line() == (
        "gate: 3 findings at or above High (2 Critical, 1 High)"
    )
    assert gate.decide(FINDINGS[2:3], "High").line() == (
        "gate: 1 finding at or above High (1 High)"
    )
    assert gate.decide(FINDINGS, "Defcon1", ignore_unfixed=True).line() == (
        "gate: passed, no findings at or above Defcon1; 2 without a fix left out"
    )


def test_apply_filters_the_report_and_adds_the_gate() -> None:
    original = report(vulnerabilities=FINDINGS, severity_counts={"Critical": 2})
    unchanged, verdict = gate.apply(original, None)
    assert verdict is None and unchanged == original

    shown, verdict = gate.apply(original, "Critical", ignore_unfixed=True)
    assert verdict is not None and not verdict.passed
    assert [f["fixed_version"] for f in shown["vulnerabilities"]] == ["1.1"] * 4
    assert shown["severity_counts"] == {"Critical": 1, "High": 1, "Negligible": 1, "Unknown": 1}
    assert shown["notes"][-1].startswith("2 findings without a fixed version left out")
    assert shown["gate"] == {
        "fail_on": "Critical",
        "ignore_unfixed": True,
        "passed": False,
        "failing": 1,
        "failing_counts": {"Critical": 1},
        "unfixed_left_out": 2,
        "allowed": 0,
    }
    assert len(original["vulnerabilities"]) == 6  # the report given is not changed

    only_filtered, verdict = gate.apply(original, None, ignore_unfixed=True)
    assert "gate" not in only_filtered and verdict is not None and verdict.exit_code == 0


def test_finish_prints_the_verdict_on_stderr_or_in_the_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    scanned = report(vulnerabilities=FINDINGS)
    assert finish(scanned, "table", fail_on="High", ignore_unfixed=False) == 1
    out, err = capsys.readouterr()
    assert "ID-Critical-pkg-1.1" in out
    assert err == "gate: 3 findings at or above High (2 Critical, 1 High)\n"

    assert finish(scanned, "json", fail_on="Defcon1", ignore_unfixed=False) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["gate"]["passed"] is True and err == ""

    assert finish(scanned, "table", fail_on=None, ignore_unfixed=False) == 0
    assert capsys.readouterr().err == ""
