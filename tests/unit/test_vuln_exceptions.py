"""The CVE allowlist's decisions (pure): whether an exception applies to a finding (namespace,
names in any case, expiry at once), marking a scan's findings, the counts a verdict rests on,
the gate leaving allowed findings out, and the values an exception may have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portside.security import exceptions
from portside.security.exceptions import Allowance, InvalidException, applies
from portside.security.scanning import gate
from portside.security.scanning.verdict import ImageContents, verdict

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def allowance(
    name: str = "CVE-2022-25883",
    namespace: str | None = None,
    *,
    resolved: tuple[str, ...] = ("GHSA-c2qf-rxjj-qqgw",),
    until: datetime = NOW + timedelta(days=1),
    number: int = 1,
) -> Allowance:
    ids = (name, *resolved)
    return Allowance(
        id=number,
        namespace=namespace,
        vulnerability=name,
        reason="not reachable",
        created_by="alice",
        created_at=NOW - timedelta(days=1),
        expires_at=until,
        names=frozenset(i.lower() for i in ids),
        ids=ids,
    )


def test_an_exception_covers_its_advisory_by_id_or_alias_in_any_case() -> None:
    rule = allowance("cve-2022-25883")
    assert applies(rule, "red", "GHSA-c2qf-rxjj-qqgw", [], NOW)  # resolved through aliases
    assert applies(rule, "red", "OTHER-1", ["CVE-2022-25883"], NOW)  # the finding's alias
    assert applies(
        allowance("ghsa-C2QF-rxjj-qqgw", resolved=()), "", "GHSA-c2qf-rxjj-qqgw", [], NOW
    )
    assert not applies(rule, "red", "GHSA-xvch-5gv4-984h", ["CVE-2021-44906"], NOW)


def test_a_namespace_exception_covers_that_namespace_only_a_global_one_all() -> None:
    red = allowance(namespace="red")
    assert applies(red, "red", "GHSA-c2qf-rxjj-qqgw", [], NOW)
    assert not applies(red, "blue", "GHSA-c2qf-rxjj-qqgw", [], NOW)
    assert not applies(red, "", "GHSA-c2qf-rxjj-qqgw", [], NOW)
    top = allowance(namespace="")  # the global namespace (repositories without a "/")
    assert applies(top, "", "GHSA-c2qf-rxjj-qqgw", [], NOW)
    assert not applies(top, "red", "GHSA-c2qf-rxjj-qqgw", [], NOW)
    everywhere = allowance(namespace=None)
    assert all(applies(everywhere, ns, "GHSA-c2qf-rxjj-qqgw", [], NOW) for ns in ("", "red"))


def test_an_exception_stops_applying_the_moment_it_expires() -> None:
    rule = allowance(until=NOW)
    assert applies(rule, "red", "GHSA-c2qf-rxjj-qqgw", [], NOW - timedelta(microseconds=1))
    assert not applies(rule, "red", "GHSA-c2qf-rxjj-qqgw", [], NOW)
    assert not applies(rule, "red", "GHSA-c2qf-rxjj-qqgw", [], NOW + timedelta(days=3))


FINDINGS = [
    {"id": "GHSA-c2qf-rxjj-qqgw", "aliases": ["CVE-2022-25883"], "severity": "High"},
    {"id": "GHSA-xvch-5gv4-984h", "aliases": ["CVE-2021-44906"], "severity": "Critical"},
    {"id": "PYSEC-2019-217", "aliases": [], "severity": "Medium", "fixed_version": "2.10.1"},
]


def test_marking_sets_who_why_and_until_and_the_counts_leave_them_out() -> None:
    marked, allowed = exceptions.mark(
        FINDINGS, "red", [allowance(), allowance("CVE-2021-44906", resolved=(), number=2)], NOW
    )
    assert allowed == 2
    assert marked[0]["allowed"] == {
        "exception": 1,
        "vulnerability": "CVE-2022-25883",
        "namespace": None,
        "reason": "not reachable",
        "by": "alice",
        "until": (NOW + timedelta(days=1)).isoformat(),
    }
    assert marked[1]["allowed"]["exception"] == 2 and "allowed" not in marked[2]
    assert "allowed" not in FINDINGS[0]  # copies
    assert exceptions.counted(marked) == {"Medium": 1}
    # A finding marked by a server no longer covered here is not kept allowed.
    again, n = exceptions.mark(marked, "red", [], NOW)
    assert n == 0 and not any("allowed" in f for f in again)


def test_the_verdict_rests_on_the_counts_without_allowed_findings() -> None:
    image = ImageContents(ecosystems=frozenset(), os_recognised=True, packages=3)
    marked, _ = exceptions.mark(
        FINDINGS,
        "red",
        [allowance(number=1), allowance("CVE-2021-44906", resolved=(), number=2)],
        NOW,
    )
    found = verdict(exceptions.counted(marked), image, {}, NOW, timedelta(days=7))
    assert found.label == "Medium" and found.counts == {"Medium": 1}
    every, _ = exceptions.mark(FINDINGS[:1], "red", [allowance()], NOW)
    assert verdict(exceptions.counted(every), image, {}, NOW, timedelta(days=7)).label == "Passed"


def test_the_gate_leaves_allowed_findings_out_and_says_how_many() -> None:
    marked, _ = exceptions.mark(FINDINGS, "red", [allowance("CVE-2021-44906", resolved=())], NOW)
    decided = gate.decide(marked, "High")
    assert decided.failing == {"High": 1} and decided.allowed == 1
    assert decided.line() == ("gate: 1 finding at or above High (1 High); 1 allowed by exceptions")
    passed = gate.decide(
        exceptions.mark(
            FINDINGS[:2], "", [allowance(), allowance("CVE-2021-44906", resolved=(), number=2)], NOW
        )[0],
        "Low",
    )
    assert passed.passed and passed.allowed == 2
    assert passed.allowed_line() == "gate: 2 findings allowed by exceptions (not counted)"
    assert passed.as_json()["allowed"] == 2
    assert gate.decide(FINDINGS, "Low").allowed_line() is None


@pytest.mark.parametrize(
    ("name", "reason", "days", "problem"),
    [
        ("", "why", 30, "vulnerability id"),
        ("CVE 1", "why", 30, "vulnerability id"),
        ("X" * 256, "why", 30, "vulnerability id"),
        ("CVE-1", "  ", 30, "reason is required"),
        ("CVE-1", "y" * 1001, 30, "longer than 1000"),
        ("CVE-1", "why", 0, "1 to 365 days"),
        ("CVE-1", "why", 366, "1 to 365 days"),
    ],
)
def test_an_exception_needs_an_id_a_bounded_reason_and_an_expiry(
    name: str, reason: str, days: int, problem: str
) -> None:
    with pytest.raises(InvalidException, match=problem):
        exceptions.check(name, reason, days)


def test_valid_values_are_kept_trimmed() -> None:
    assert exceptions.check(" CVE-2021-44228 ", " not used ", 365) == ("CVE-2021-44228", "not used")
