"""Severity: CVSS base scores, vendor words, and which source wins."""

from typing import Any

import pytest

from portside.security.advisories.severity import (
    Severity,
    SeverityInfo,
    assess,
    base_score,
    from_score,
    from_word,
)

from .conftest import record

V3_CRITICAL = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V4_CRITICAL = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


@pytest.mark.parametrize(
    ("kind", "vector", "score"),
    [
        ("CVSS_V3", V3_CRITICAL, 9.8),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),  # Log4Shell
        ("CVSS_V3", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),  # Looney Tunables
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4),
        ("CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),  # scope change
        ("CVSS_V3", "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS_V4", V4_CRITICAL, 9.3),
        ("CVSS_V4", "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5),
        ("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
    ],
)
def test_base_scores(kind: str, vector: str, score: float) -> None:
    assert base_score(kind, vector) == score


@pytest.mark.parametrize(
    ("kind", "vector"),
    [
        ("CVSS_V3", "CVSS:3.1/AV:N"),
        ("CVSS_V3", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
        ("CVSS_V3", V4_CRITICAL),
        ("CVSS_V3", "garbage"),
        ("Ubuntu", "high"),
    ],
)
def test_invalid_vectors_have_no_score(kind: str, vector: str) -> None:
    assert base_score(kind, vector) is None


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (10.0, Severity.CRITICAL),
        (9.0, Severity.CRITICAL),
        (8.9, Severity.HIGH),
        (7.0, Severity.HIGH),
        (6.9, Severity.MEDIUM),
        (4.0, Severity.MEDIUM),
        (3.9, Severity.LOW),
        (0.1, Severity.LOW),
        (0.0, Severity.NEGLIGIBLE),
    ],
)
def test_score_bands(score: float, severity: Severity) -> None:
    assert from_score(score) is severity


def test_cvss_v2_has_no_critical_band() -> None:
    assert from_score(10.0, cvss_version=2) is Severity.HIGH


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("CRITICAL", Severity.CRITICAL),
        ("Important", Severity.HIGH),
        ("MODERATE", Severity.MEDIUM),
        ("medium", Severity.MEDIUM),
        (" low ", Severity.LOW),
        ("negligible", Severity.NEGLIGIBLE),
        ("unimportant", Severity.NEGLIGIBLE),
        ("untriaged", Severity.UNKNOWN),
        ("not yet assigned", Severity.UNKNOWN),
    ],
)
def test_vendor_words(word: str, severity: Severity) -> None:
    assert from_word(word) is severity


def test_order_of_severities() -> None:
    assert [s.value for s in sorted(Severity, key=lambda s: -s.rank)] == [
        "Critical",
        "High",
        "Medium",
        "Low",
        "Negligible",
        "Unknown",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "GHSA-h5c8-rqwp-cp95",
            SeverityInfo(Severity.MEDIUM, "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4),
        ),
        (
            "UBUNTU-CVE-2023-4911",
            SeverityInfo(Severity.HIGH, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ),
        ("UBUNTU-CVE-2022-3219", SeverityInfo(Severity.LOW)),  # Ubuntu priority only
        ("RLSA-2023-5455", SeverityInfo(Severity.HIGH)),  # database_specific "Important"
        ("DSA-5514-1", SeverityInfo(Severity.UNKNOWN)),
    ],
)
def test_real_records(name: str, expected: SeverityInfo) -> None:
    assert assess(record(name)) == expected


def test_cvss_v3_is_preferred_to_v4_and_to_words() -> None:
    data: dict[str, Any] = {
        "severity": [
            {"type": "CVSS_V4", "score": V4_CRITICAL},
            {"type": "Ubuntu", "score": "low"},
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"},
        ],
        "database_specific": {"severity": "LOW"},
    }
    assert assess(data).severity is Severity.MEDIUM
    data["severity"].pop()
    assert assess(data) == SeverityInfo(Severity.CRITICAL, V4_CRITICAL, 9.3)


def test_a_broken_vector_falls_back_to_the_next_source() -> None:
    data = {
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"}],
        "database_specific": {"severity": "HIGH"},
    }
    assert assess(data) == SeverityInfo(Severity.HIGH)


def test_per_package_severities() -> None:
    data: dict[str, Any] = {
        "affected": [
            {"ecosystem_specific": {"severity": "LOW"}},
            {"database_specific": {"severity": "MODERATE"}},
            {"severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}]},
        ]
    }
    assert assess(data).severity is Severity.MEDIUM  # the worst vendor word beats CVSS v2
    data["affected"] = data["affected"][2:]
    assert assess(data) == SeverityInfo(Severity.HIGH, "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5)
    data["affected"][0]["severity"][0]["type"] = "CVSS_V3"
    assert assess(data).severity is Severity.UNKNOWN  # a v2 vector mislabelled as v3


def test_garbage_severity_fields_are_ignored() -> None:
    data = {"severity": "high", "affected": "none", "database_specific": ["HIGH"]}
    assert assess(data) == SeverityInfo(Severity.UNKNOWN)
