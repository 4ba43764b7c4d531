"""Harbor's adapter metadata and HarborVulnerabilityReport -> Portside findings (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from portside.security.scanning.backends import BackendError
from portside.security.scanning.backends.harbor import (
    REPORT_V10,
    REPORT_V11,
    SCAN_REQUEST_V10,
    SCAN_REQUEST_V11,
    api_root,
    findings_from_report,
    parse_metadata,
    refresh_after,
    severity,
)

OCI = "application/vnd.oci.image.manifest.v1+json"
DOCKER = "application/vnd.docker.distribution.manifest.v2+json"

# harbor-scanner-trivy's GET /api/v1/metadata.
METADATA: dict[str, Any] = {
    "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.50.1"},
    "capabilities": [
        {
            "type": "vulnerability",
            "consumes_mime_types": [OCI, DOCKER],
            "produces_mime_types": [
                "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
                "application/vnd.security.vulnerability.report; version=1.1",
            ],
        },
        {
            "type": "sbom",
            "consumes_mime_types": [OCI, DOCKER],
            "produces_mime_types": ["application/vnd.security.sbom.report+json; version=1.0"],
            "additional_attributes": {"sbom_media_types": ["application/spdx+json"]},
        },
    ],
    "properties": {"harbor.scanner-adapter/scanner-type": "os-package-vulnerability"},
}

# A HarborVulnerabilityReport (application/vnd.security.vulnerability.report; version=1.1).
REPORT: dict[str, Any] = {
    "generated_at": "2026-01-02T03:04:05.123Z",
    "artifact": {
        "repository": "library/debian",
        "digest": "sha256:" + "c" * 64,
        "mime_type": OCI,
    },
    "scanner": METADATA["scanner"],
    "severity": "Critical",
    "vulnerabilities": [
        {
            "id": "CVE-2023-4911",
            "package": "libc6",
            "version": "2.36-9+deb12u1",
            "fix_version": "2.36-9+deb12u3",
            "severity": "High",
            "description": "glibc: buffer overflow in ld.so leading to privilege escalation\n"
            "A buffer overflow was discovered in the GNU C Library's dynamic loader ld.so.",
            "links": [
                "https://avd.aquasec.com/nvd/cve-2023-4911",
                "https://security-tracker.debian.org/tracker/CVE-2023-4911",
            ],
            "preferred_cvss": {
                "score_v3": 7.8,
                "score_v2": None,
                "vector_v3": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                "vector_v2": "",
            },
            "cwe_ids": ["CWE-122"],
            "vendor_attributes": {"CVSS": {"nvd": {"V3Score": 7.8}}},
        },
        {
            "id": "GHSA-j8r2-6x86-q33q",
            "package": "requests",
            "version": "2.30.0",
            "fix_version": "2.31.0",
            "severity": "Medium",
            "description": "",
            "links": ["https://nvd.nist.gov/vuln/detail/CVE-2023-32681"],
        },
        {
            "id": "CVE-2005-2541",
            "package": "tar",
            "version": "1.34+dfsg-1.2",
            "fix_version": "",
            "severity": "None",
            "links": [],
            "cwe_ids": [],
        },
        {"id": "CVE-2024-0001", "package": "zlib1g", "version": "1:1.2.13", "severity": "Critical"},
        {"package": "no-id"},
    ],
}


def test_findings() -> None:
    findings = {f["id"]: f for f in findings_from_report(REPORT)}
    assert set(findings) == {
        "CVE-2023-4911",
        "GHSA-j8r2-6x86-q33q",
        "CVE-2005-2541",
        "CVE-2024-0001",
    }
    assert findings["CVE-2023-4911"] == {
        "id": "CVE-2023-4911",
        "aliases": [],
        "severity": "High",
        "package": "libc6",
        "version": "2.36-9+deb12u1",
        "ecosystem": "harbor-adapter",
        "fixed_version": "2.36-9+deb12u3",
        "summary": "glibc: buffer overflow in ld.so leading to privilege escalation",
        "links": [
            "https://avd.aquasec.com/nvd/cve-2023-4911",
            "https://security-tracker.debian.org/tracker/CVE-2023-4911",
        ],
    }
    ghsa = findings["GHSA-j8r2-6x86-q33q"]
    assert ghsa["aliases"] == ["CVE-2023-32681"]
    assert ghsa["summary"] is None
    tar = findings["CVE-2005-2541"]
    assert (tar["severity"], tar["fixed_version"], tar["links"]) == ("Negligible", None, [])
    assert findings["CVE-2024-0001"]["links"] == []


def test_an_empty_or_broken_report() -> None:
    assert findings_from_report({"vulnerabilities": None}) == []
    assert findings_from_report({}) == []
    with pytest.raises(BackendError):
        findings_from_report({"vulnerabilities": {"CVE-1": {}}})


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"severity": "Unknown"}, "Unknown"),
        ({"severity": "None"}, "Negligible"),
        ({"severity": "Negligible"}, "Negligible"),
        ({"severity": "Low"}, "Low"),
        ({"severity": "Medium"}, "Medium"),
        ({"severity": "High"}, "High"),
        ({"severity": "Critical"}, "Critical"),
        ({"severity": "CRITICAL"}, "Critical"),
        ({}, "Unknown"),
        ({"severity": "Unknown", "preferred_cvss": {"score_v3": 9.8}}, "Critical"),
        ({"severity": "Unknown", "preferred_cvss": {"score_v2": 9.3}}, "High"),
        ({"severity": "Unknown", "preferred_cvss": {"score_v3": None}}, "Unknown"),
        ({"severity": "Low", "preferred_cvss": {"score_v3": 9.8}}, "Low"),  # the word wins
    ],
)
def test_severity(item: dict[str, Any], expected: str) -> None:
    assert severity(item) == expected


def test_metadata_picks_the_report_type() -> None:
    metadata = parse_metadata(
        METADATA, "application/vnd.scanner.adapter.metadata+json; version=1.1"
    )
    assert metadata.scanner == "Trivy v0.50.1"
    assert metadata.request_type == SCAN_REQUEST_V11
    assert metadata.report_type(OCI) == REPORT_V11
    assert metadata.report_type(DOCKER) == REPORT_V11
    with pytest.raises(BackendError, match="produces no vulnerability report"):
        metadata.report_type("application/vnd.oci.image.index.v1+json")
    # An adapter of API v1.0: the older report type, and the older scan request type.
    old = {
        "scanner": {"name": "Clair"},
        "capabilities": [
            {"consumes_mime_types": [DOCKER], "produces_mime_types": [REPORT_V10.replace(" ", "")]}
        ],
    }
    parsed = parse_metadata(old, "application/vnd.scanner.adapter.metadata+json; version=1.0")
    assert parsed.report_type(DOCKER) == REPORT_V10
    assert parsed.request_type == SCAN_REQUEST_V10
    sbom_only = {"scanner": {}, "capabilities": [METADATA["capabilities"][1]]}
    with pytest.raises(BackendError):
        parse_metadata(sbom_only).report_type(OCI)
    with pytest.raises(BackendError, match="no capabilities"):
        parse_metadata({"scanner": {}})


def test_api_root_and_refresh_after() -> None:
    assert api_root("http://adapter:8080") == "http://adapter:8080/api/v1"
    assert api_root("http://adapter:8080/") == "http://adapter:8080/api/v1"
    assert api_root("http://adapter:8080/api/v1/") == "http://adapter:8080/api/v1"
    assert api_root("https://x/scanners/trivy/api/v1") == "https://x/scanners/trivy/api/v1"
    assert refresh_after("15") == 15
    assert refresh_after("0") == 0.1  # never a busy loop
    assert refresh_after(None) == 2.0
    assert refresh_after("soon") == 2.0
    assert refresh_after("-3") == 2.0
    assert refresh_after("nan") == 2.0
