"""`portside scan`'s output formats, from a report as the command or the server makes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portside.security.scanning.render import emit


def report(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "repository": "ns/app",
        "reference": "1.0",
        "digest": "sha256:" + "a" * 64,
        "source": "scanned",
        "os": {"id": "debian", "pretty_name": "Debian GNU/Linux 12 (bookworm)"},
        "platforms": [],
        "packages": [
            {
                "name": "libc6",
                "version": "2.36-9",
                "ecosystem": "deb",
                "source_name": "glibc",
                "purl": "pkg:deb/debian/libc6@2.36-9?distro=debian-12",
            },
        ],
        "vulnerabilities": [
            {
                "id": "DSA-5514-1",
                "severity": "High",
                "package": "libc6",
                "version": "2.36-9",
                "ecosystem": "Debian:12",
                "fixed_version": "2.36-9+deb12u3",
                "aliases": [],
                "links": [],
            },
        ],
        "severity_counts": {"High": 1},
        "notes": ["a note <b>as written</b>"],
    }
    return {**base, **changes}


def test_json_is_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    emit(report(), "json")
    assert json.loads(capsys.readouterr().out) == report()


def test_the_table_names_the_image_its_findings_and_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit(report(), "table")
    out = capsys.readouterr().out
    assert "ns/app@sha256:" in out and "Debian GNU/Linux 12" in out
    assert "DSA-5514-1" in out and "2.36-9+deb12u3" in out
    assert "1 High" in out
    assert "note: a note <b>as written</b>" in out  # printed as it is, not as markup
    assert "stored scan" not in out


def test_a_stored_scan_says_when_it_was_made(capsys: pytest.CaptureFixture[str]) -> None:
    stored = report(
        source="stored",
        scanned_at="2026-11-27T12:00:00+00:00",
        matched_at="2026-11-27T13:00:00+00:00",
        vulnerabilities=[],
        severity_counts={},
        verdict={"label": "Passed", "complete": True, "gaps": []},
    )
    emit(stored, "table")
    out = capsys.readouterr().out
    assert "stored scan of 2026-11-27T12:00:00+00:00" in out
    assert "no known vulnerabilities" in out


def test_a_scan_without_data_does_not_claim_no_known_vulnerabilities(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gaps = ["no advisories loaded for Debian 12"]
    emit(report(vulnerabilities=[], severity_counts={}, verdict={"gaps": gaps}), "table")
    out = capsys.readouterr().out
    assert "incomplete: no advisories loaded for Debian 12" in out
    assert "no known vulnerabilities" not in out
    emit(report(verdict={"gaps": gaps}), "table")
    assert "1 High (not checked: no advisories loaded for Debian 12)" in capsys.readouterr().out


def test_cyclonedx_has_a_component_per_package_and_the_finding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit(report(), "cyclonedx")
    bom = json.loads(capsys.readouterr().out)
    assert [c["purl"] for c in bom["components"]] == [
        "pkg:deb/debian/libc6@2.36-9?distro=debian-12"
    ]
    assert [v["id"] for v in bom["vulnerabilities"]] == ["DSA-5514-1"]
