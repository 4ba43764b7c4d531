"""Clair's VulnerabilityReport -> Portside findings, and the index request (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from portside.errors import InvalidName
from portside.security.scanning.backends import BackendError
from portside.security.scanning.backends.clair import (
    finding_id,
    findings_from_report,
    fixed_version,
    index_request,
    layer_digests,
    severity,
)

DIGEST = "sha256:" + "a" * 64
LAYER = "sha256:" + "b" * 64

# Shaped as Clair v4's GET /matcher/api/v1/vulnerability_report/{digest} answers: an Ubuntu
# binary package (its vulnerability names the source package), a Python package found by the
# pypi repository, a RHEL advisory whose name is a title, a vulnerability whose package is not
# in the report's packages.
REPORT: dict[str, Any] = {
    "manifest_hash": DIGEST,
    "packages": {
        "10": {
            "id": "10",
            "name": "libc6",
            "version": "2.27-3ubuntu1",
            "kind": "binary",
            "source": {"id": "9", "name": "glibc", "version": "2.27-3ubuntu1", "kind": "source"},
            "arch": "amd64",
        },
        "20": {"id": "20", "name": "requests", "version": "2.30.0", "kind": "binary"},
        "30": {"id": "30", "name": "glibc", "version": "2.34-60.el9", "kind": "binary"},
    },
    "distributions": {
        "1": {
            "id": "1",
            "did": "ubuntu",
            "name": "Ubuntu",
            "version": "18.04.3 LTS (Bionic Beaver)",
            "version_code_name": "bionic",
            "version_id": "18.04",
            "pretty_name": "Ubuntu 18.04.3 LTS",
        },
        "2": {"id": "2", "did": "rhel", "name": "Red Hat Enterprise Linux", "version_id": "9"},
    },
    "repository": {"5": {"id": "5", "name": "pypi", "uri": "https://pypi.org/simple"}},
    "environments": {
        "10": [
            {"package_db": "var/lib/dpkg/status", "introduced_in": LAYER, "distribution_id": "1"}
        ],
        "20": [{"package_db": "usr/lib/python3/site-packages", "repository_ids": ["5"]}],
        "30": [{"package_db": "var/lib/rpm", "distribution_id": "2", "repository_ids": []}],
    },
    "vulnerabilities": {
        "356835": {
            "id": "356835",
            "updater": "ubuntu",
            "name": "CVE-2009-5155",
            "description": "In the GNU C Library (aka glibc or libc6) before 2.28, parse_reg_exp "
            "misparses alternatives.\nSecond line.",
            "links": "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2009-5155 "
            "http://people.canonical.com/~ubuntu-security/cve/2009/CVE-2009-5155.html",
            "severity": "Low",
            "normalized_severity": "Low",
            "package": {"id": "0", "name": "glibc", "version": "", "kind": "binary"},
            "dist": {"id": "0", "did": "ubuntu", "version_id": "18.04"},
            "repo": {"id": "0", "name": "Ubuntu 18.04.3 LTS"},
            "issued": "2019-10-12T07:20:50.52Z",
            "fixed_in_version": "2.28-0ubuntu1",
        },
        "777": {
            "id": "777",
            "updater": "osv/pypi",
            "name": "GHSA-j8r2-6x86-q33q",
            "description": "Unintended leak of Proxy-Authorization header in requests",
            "links": "https://github.com/psf/requests/security/advisories/GHSA-j8r2-6x86-q33q "
            "https://nvd.nist.gov/vuln/detail/CVE-2023-32681 https://pypi.org/project/requests",
            "severity": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
            "normalized_severity": "Medium",
            "package": {"id": "", "name": "requests", "version": ""},
            "repo": {"id": "", "name": "pypi"},
            "fixed_in_version": "fixed=2.31.0&introduced=2.3.0",
        },
        "900": {
            "id": "900",
            "updater": "rhel-vex",
            "name": "RHSA-2023:5455: glibc security update (Important)",
            "description": "",
            "links": "https://access.redhat.com/errata/RHSA-2023:5455 "
            "https://access.redhat.com/security/cve/CVE-2023-4911",
            "severity": "Important",
            "normalized_severity": "High",
            "package": {"id": "", "name": "glibc", "version": ""},
            "fixed_in_version": "0:2.34-60.el9_2.7",
        },
        "901": {
            "id": "901",
            "updater": "alpine",
            "name": "CVE-2023-0001",
            "description": "  ",
            "links": "",
            "severity": "",
            "normalized_severity": "Bogus",
            "package": {"id": "", "name": "musl", "version": "1.2.3-r0"},
            "fixed_in_version": "",
        },
    },
    "package_vulnerabilities": {
        "10": ["356835"],
        "20": ["777"],
        "30": ["900"],
        "99": ["901"],
    },
    "enrichments": {},
}


def by_id() -> dict[str, dict[str, Any]]:
    findings = findings_from_report(REPORT)
    assert len(findings) == 4
    return {f["id"]: f for f in findings}


def test_an_os_package_finding() -> None:
    found = by_id()["CVE-2009-5155"]
    assert found == {
        "id": "CVE-2009-5155",
        "aliases": [],
        "severity": "Low",
        "package": "libc6",  # the installed binary package, not the advisory's source name
        "version": "2.27-3ubuntu1",
        "ecosystem": "Ubuntu:18.04:LTS",
        "fixed_version": "2.28-0ubuntu1",
        "summary": "In the GNU C Library (aka glibc or libc6) before 2.28, parse_reg_exp "
        "misparses alternatives.",
        "links": [
            "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2009-5155",
            "http://people.canonical.com/~ubuntu-security/cve/2009/CVE-2009-5155.html",
        ],
    }


def test_a_language_package_finding() -> None:
    found = by_id()["GHSA-j8r2-6x86-q33q"]
    assert found["ecosystem"] == "PyPI"
    assert (found["package"], found["version"]) == ("requests", "2.30.0")
    assert found["aliases"] == ["CVE-2023-32681"]
    assert found["fixed_version"] == "2.31.0"
    assert found["severity"] == "Medium"
    assert len(found["links"]) == 3


def test_an_advisory_named_by_its_title() -> None:
    found = by_id()["RHSA-2023:5455"]
    assert found["aliases"] == ["CVE-2023-4911"]
    assert found["severity"] == "High"
    assert found["ecosystem"] == "Red Hat:enterprise_linux:9"
    assert found["fixed_version"] == "0:2.34-60.el9_2.7"
    assert found["summary"] is None


def test_a_package_missing_from_the_report_falls_back_to_the_vulnerability() -> None:
    found = by_id()["CVE-2023-0001"]
    assert (found["package"], found["version"]) == ("musl", "1.2.3-r0")
    assert found["ecosystem"] == "clair"
    assert found["severity"] == "Unknown"
    assert (found["fixed_version"], found["summary"], found["links"]) == (None, None, [])


def test_an_empty_or_partial_report() -> None:
    assert findings_from_report({"manifest_hash": DIGEST}) == []
    assert findings_from_report({"package_vulnerabilities": {"1": ["404"]}}) == []
    assert findings_from_report({"package_vulnerabilities": {"1": "oops"}}) == []


@pytest.mark.parametrize(
    ("normalized", "expected"),
    [
        ("Unknown", "Unknown"),
        ("Negligible", "Negligible"),
        ("Low", "Low"),
        ("Medium", "Medium"),
        ("High", "High"),
        ("Critical", "Critical"),
        ("critical", "Critical"),
        ("", "Unknown"),
        ("Defcon1", "Unknown"),
    ],
)
def test_severity(normalized: str, expected: str) -> None:
    assert severity({"normalized_severity": normalized}) == expected


def test_ids_and_fixed_versions() -> None:
    assert finding_id({"name": "DSA-5514-1"}) == "DSA-5514-1"
    assert finding_id({"name": "DSA-5514-1 glibc - security update"}) == "DSA-5514-1"
    assert finding_id({"name": "glibc vulnerability"}) == "glibc vulnerability"
    assert finding_id({"name": "", "id": "42"}) == "42"
    assert fixed_version("") is None
    assert fixed_version(None) is None
    assert fixed_version(" 1.2 ") == "1.2"
    assert fixed_version("introduced=1.0&lastAffected=1.1") is None


def test_the_index_request() -> None:
    body = index_request(
        DIGEST,
        [LAYER],
        registry_url="http://registry:5000",
        repository="ns/app",
        authorization="Bearer t0ken",
    )
    assert body == {
        "hash": DIGEST,
        "layers": [
            {
                "hash": LAYER,
                "uri": f"http://registry:5000/v2/ns/app/blobs/{LAYER}",
                "headers": {"Authorization": ["Bearer t0ken"]},
            }
        ],
    }
    anonymous = index_request(
        DIGEST, [LAYER], registry_url="http://r", repository="a", authorization=None
    )
    assert anonymous["layers"][0]["headers"] == {}
    # A layer URI is built from validated names only: nothing Clair could resolve elsewhere.
    for repository, layer in (("evil/../team/app", LAYER), ("ns/app", "sha256:../../x")):
        with pytest.raises(InvalidName):
            index_request(
                DIGEST, [layer], registry_url="http://r", repository=repository, authorization=None
            )


def test_layer_digests() -> None:
    manifest = {
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": LAYER},
            {
                "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                "digest": DIGEST,
            },
        ]
    }
    assert layer_digests(manifest) == [LAYER]
    with pytest.raises(BackendError):
        layer_digests({"manifests": []})
    with pytest.raises(BackendError):
        layer_digests({"layers": [{"mediaType": "x"}]})
