"""Printing a scan report (:mod:`portside.security.scanning.oneshot`) as `portside scan` does: a
table,
JSON, or a CycloneDX BOM.

Light on purpose: `portside scan --server` prints a report it got over HTTP, so this module
imports neither the database layer nor the scanner; Rich and cyclonedx-python-lib are imported
only by the format that needs them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from portside.security.scanning import gate
from portside.security.severity import ORDER


def finish(
    report: dict[str, Any], output: str, *, fail_on: str | None, ignore_unfixed: bool
) -> int:
    """Print ``report`` as `portside scan` does, with the gate applied (:func:`gate.apply`), and
    return the command's exit code: 0, or 1 when a finding at or above ``fail_on`` remains.
    The verdict goes on stderr with a table or a BOM; JSON carries it in its ``gate`` field."""
    shown, verdict = gate.apply(report, fail_on, ignore_unfixed=ignore_unfixed)
    emit(shown, output)
    if verdict is None:
        return 0
    if verdict.fail_on is not None and output != "json":
        sys.stdout.flush()
        sys.stderr.write(verdict.line() + "\n")
    elif (allowed := verdict.allowed_line()) is not None:
        sys.stdout.flush()
        sys.stderr.write(allowed + "\n")
    return verdict.exit_code


def emit(report: dict[str, Any], output: str) -> None:
    if output == "json":
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output == "cyclonedx":
        from portside.security.scanning import sbom  # cyclonedx-python-lib is slow to import

        subject = f"{report['repository']}@{report['digest']}"
        sys.stdout.write(sbom.render(subject, report["packages"], report["vulnerabilities"]))
        sys.stdout.write("\n")
    else:
        print_table(report)


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    os = report["os"]
    console.print(
        f"[bold]{report['repository']}@{report['digest']}[/bold]  "
        f"{(os or {}).get('pretty_name') or (os or {}).get('id') or 'unknown OS'}",
        highlight=False,
    )
    if report.get("source") == "stored":
        console.print(
            f"stored scan of {report.get('scanned_at')}, matched {report.get('matched_at')}",
            highlight=False,
        )
    packages = Table("package", "version", "type", "source", title="packages")
    for p in sorted(report["packages"], key=lambda p: (p["ecosystem"], p["name"])):
        packages.add_row(p["name"], p["version"], p["ecosystem"], p.get("source_name") or "")
    console.print(packages)
    vulns = Table("id", "severity", "package", "version", "fixed in", title="vulnerabilities")
    for f in sorted(
        report["vulnerabilities"],
        key=lambda f: (ORDER.index(f["severity"]) if f["severity"] in ORDER else 9, f["id"]),
    ):
        allowed = f.get("allowed")
        severity = f"{f['severity']} (allowed)" if allowed else f["severity"]
        vulns.add_row(f["id"], severity, f["package"], f["version"], f.get("fixed_version") or "")
    console.print(vulns)
    counts = report["severity_counts"]
    verdict = report.get("verdict") or {}
    found = ", ".join(f"{counts[k]} {k}" for k in ORDER if counts.get(k))
    gaps = "; ".join(verdict.get("gaps") or [])
    if found:
        console.print(found + (f" (not checked: {gaps})" if gaps else ""), highlight=False)
    elif gaps or "verdict" not in report:  # an older server's report carries no verdict
        console.print(
            f"incomplete: {gaps}" if gaps else "no vulnerabilities found", highlight=False
        )
    else:
        console.print("no known vulnerabilities")
    for note in report["notes"]:
        console.print(f"note: {note}", highlight=False, markup=False)
