"""The CI gate of `portside scan --fail-on SEVERITY [--ignore-unfixed]` (pure).

One decision on a scan report (:mod:`portside.security.scanning.oneshot`), whether the command
scanned
the image itself or asked a running Portside for it (:mod:`portside.apiclient`): which findings
count (with ``ignore_unfixed``, those without a fixed version are left out, of the output as
of the gate) and whether one at or above the threshold remains.

Levels are in Portus's order, worst first: Defcon1, Critical, High, Medium, Low, Unknown,
Negligible (an unknown severity is worse than a negligible one: nobody has rated it yet).
Light on purpose: `portside scan --server` imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from portside.security.severity import counts

LEVELS = ("Defcon1", "Critical", "High", "Medium", "Low", "Unknown", "Negligible")
_BY_WORD = {level.lower(): level for level in LEVELS}


def parse_level(word: str) -> str:
    """``high``, ``HIGH`` or ``High`` -> ``High``; anything else is a :class:`ValueError` that
    lists the accepted names."""
    found = _BY_WORD.get(word.strip().lower())
    if found is None:
        raise ValueError(f"{word!r} is not a severity: one of {', '.join(LEVELS)} (any case)")
    return found


def level_of(finding: Mapping[str, Any]) -> str:
    """A finding's level; a missing or unknown severity word is Unknown."""
    severity = finding.get("severity")
    return _BY_WORD.get(severity.lower(), "Unknown") if isinstance(severity, str) else "Unknown"


def has_fix(finding: Mapping[str, Any]) -> bool:
    fixed = finding.get("fixed_version")
    return isinstance(fixed, str) and bool(fixed.strip())


@dataclass(frozen=True)
class Verdict:
    """What the gate decided: ``failing`` counts the findings at or above ``fail_on`` per level,
    worst first (empty: passed); ``unfixed_left_out`` how many ``ignore_unfixed`` removed."""

    fail_on: str | None
    ignore_unfixed: bool
    failing: dict[str, int] = field(default_factory=dict)
    unfixed_left_out: int = 0
    allowed: int = 0  # findings an exception covers (``allowed`` set by the scan report)

    @property
    def passed(self) -> bool:
        return not self.failing

    @property
    def exit_code(self) -> int:
        """0 passed, 1 failed (the command's other codes are its errors')."""
        return 0 if self.passed else 1

    def line(self) -> str:
        """The one-line verdict: ``gate: 3 findings at or above High (2 Critical, 1 High)``."""
        left_out = (
            f"; {self.unfixed_left_out} without a fix left out" if self.ignore_unfixed else ""
        )
        if self.allowed:
            left_out += f"; {self.allowed} allowed by exceptions"

        if self.fail_on is None:
            return f"gate: no threshold (--fail-on){left_out}"
        if self.passed:
            return f"gate: passed, no findings at or above {self.fail_on}{left_out}"
        total = sum(self.failing.values())
        detail = ", ".join(f"{n} {level}" for level, n in self.failing.items())
        noun = "finding" if total == 1 else "findings"
        return f"gate: {total} {noun} at or above {self.fail_on} ({detail}){left_out}"

    def as_json(self) -> dict[str, Any]:
        return {
            "fail_on": self.fail_on,
            "ignore_unfixed": self.ignore_unfixed,
            "passed": self.passed,
            "failing": sum(self.failing.values()),
            "failing_counts": dict(self.failing),
            "unfixed_left_out": self.unfixed_left_out,
            "allowed": self.allowed,
        }

    def allowed_line(self) -> str | None:
        """``gate: 2 findings allowed by exceptions (not counted)``; None when none was."""
        if not self.allowed:
            return None
        noun = "finding" if self.allowed == 1 else "findings"
        return f"gate: {self.allowed} {noun} allowed by exceptions (not counted)"


def decide(
    findings: Iterable[Mapping[str, Any]], fail_on: str | None, *, ignore_unfixed: bool = False
) -> Verdict:
    """The gate on ``findings``: those at or above ``fail_on`` (a level of :data:`LEVELS`;
    None: nothing fails), leaving out those an exception allows (``allowed`` set) and those
    without a fix when ``ignore_unfixed``."""
    threshold = LEVELS.index(fail_on) if fail_on is not None else -1
    tally = dict.fromkeys(LEVELS, 0)
    left_out = 0
    allowed = 0
    for finding in findings:
        if finding.get("allowed"):
            allowed += 1
            continue
        if ignore_unfixed and not has_fix(finding):
            left_out += 1
            continue
        level = level_of(finding)
        if LEVELS.index(level) <= threshold:
            tally[level] += 1
    failing = {level: n for level, n in tally.items() if n}
    return Verdict(fail_on, ignore_unfixed, failing, left_out, allowed)


def apply(
    report: Mapping[str, Any], fail_on: str | None, *, ignore_unfixed: bool = False
) -> tuple[dict[str, Any], Verdict | None]:
    """The report as the command prints it, and the gate's verdict (None when neither option
    was given: the report is unchanged). With ``ignore_unfixed`` the findings without a fix
    are left out of the report too, its severity counts computed again, and a note says so."""
    out = dict(report)
    if fail_on is None and not ignore_unfixed:
        return out, None
    findings = list(report.get("vulnerabilities") or [])
    verdict = decide(findings, fail_on, ignore_unfixed=ignore_unfixed)
    if ignore_unfixed:
        kept = [f for f in findings if has_fix(f)]
        out["vulnerabilities"] = kept
        out["severity_counts"] = counts(str(f.get("severity")) for f in kept)
        n = verdict.unfixed_left_out
        out["notes"] = [
            *(report.get("notes") or []),
            f"{n} {'finding' if n == 1 else 'findings'} without a fixed version left out "
            "(--ignore-unfixed)",
        ]
    if fail_on is not None:
        out["gate"] = verdict.as_json()
    return out, verdict
