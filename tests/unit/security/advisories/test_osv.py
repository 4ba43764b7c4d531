"""Parsing OSV records into advisories: real records, and the parts that must be skipped."""

from datetime import UTC, datetime

import pytest

from portside.security.advisories.errors import InvalidAdvisory, VulnDataError
from portside.security.advisories.osv import EventKind, RangeType, parse_advisory, parse_timestamp
from portside.security.severity import Severity

from .conftest import record


def test_debian_dsa_record() -> None:
    parsed = parse_advisory(record("DSA-5514-1"))
    advisory = parsed.advisory
    assert parsed.skipped == ()
    assert advisory.id == "DSA-5514-1"
    assert advisory.upstream == ("CVE-2023-4911", "DEBIAN-CVE-2023-4911")
    assert advisory.modified == datetime(2023, 10, 4, 8, 52, 34, 125689, tzinfo=UTC)
    assert advisory.references == ("https://www.debian.org/security/2023/dsa-5514",)
    assert advisory.severity is Severity.UNKNOWN  # DSAs carry no severity
    bookworm = advisory.affected[1]
    assert (bookworm.ecosystem, bookworm.name) == ("Debian:12", "glibc")
    assert bookworm.purl == "pkg:deb/debian/glibc?arch=source"
    assert bookworm.fixed_versions == ("2.36-9+deb12u3",)
    assert "2.36-9+deb12u2" in bookworm.versions
    assert bookworm.ranges[0].type is RangeType.ECOSYSTEM
    assert [(e.kind, e.version) for e in bookworm.ranges[0].events] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.FIXED, "2.36-9+deb12u3"),
    ]


def test_nanosecond_timestamps_are_read() -> None:
    advisory = parse_advisory(record("DEBIAN-CVE-2024-58382")).advisory
    assert advisory.modified == datetime(2025, 9, 12, 11, 0, 5, 986201, tzinfo=UTC)
    assert advisory.published == datetime(2025, 9, 9, 14, 17, 10, 327000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-11T15:20:48Z", datetime(2024, 1, 11, 15, 20, 48, tzinfo=UTC)),
        ("2024-01-11T15:20:48", datetime(2024, 1, 11, 15, 20, 48, tzinfo=UTC)),
        ("2024-01-11T17:20:48+02:00", datetime(2024, 1, 11, 15, 20, 48, tzinfo=UTC)),
        ("2024-01-11 15:20:48.5z", datetime(2024, 1, 11, 15, 20, 48, 500000, tzinfo=UTC)),
        ("yesterday", None),
        ("2024-13-45T00:00:00Z", None),
        (20240111, None),
    ],
)
def test_parse_timestamp(text: object, expected: datetime | None) -> None:
    assert parse_timestamp(text) == expected


def test_pypi_record_with_git_and_ecosystem_ranges() -> None:
    advisory = parse_advisory(record("PYSEC-2023-74")).advisory
    assert advisory.aliases == ("CVE-2023-32681", "GHSA-j8r2-6x86-q33q")
    requests = advisory.affected[0]
    assert [r.type for r in requests.ranges] == [RangeType.GIT, RangeType.ECOSYSTEM]
    assert requests.fixed_versions == ("2.31.0",)  # GIT fixes are commits, not version hints


def test_ubuntu_record_keeps_related_ids() -> None:
    advisory = parse_advisory(record("UBUNTU-CVE-2023-4911")).advisory
    assert advisory.aliases == ()
    assert advisory.related == ("CVE-2023-4911", "USN-6409-1")
    assert advisory.affected[0].ecosystem == "Ubuntu:22.04:LTS"


def test_withdrawn_record_is_kept_and_flagged() -> None:
    data = record("GHSA-h5c8-rqwp-cp95") | {"withdrawn": "2024-02-01T00:00:00Z"}
    advisory = parse_advisory(data).advisory
    assert advisory.is_withdrawn
    assert advisory.withdrawn == datetime(2024, 2, 1, tzinfo=UTC)
    assert not parse_advisory(record("GHSA-h5c8-rqwp-cp95")).advisory.is_withdrawn


def test_unreadable_withdrawal_still_counts_as_withdrawn() -> None:
    parsed = parse_advisory(record("GHSA-h5c8-rqwp-cp95") | {"withdrawn": "soon"})
    assert parsed.advisory.is_withdrawn
    assert parsed.skipped == ("withdrawn: unreadable timestamp; treated as withdrawn",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object, not list"),
        ("DSA-1", "must be a JSON object, not str"),
        ({"summary": "no id"}, "without an id"),
        ({"id": ""}, "without an id"),
        ({"id": 42}, "without an id"),
    ],
)
def test_records_without_an_id_are_invalid(data: object, message: str) -> None:
    with pytest.raises(InvalidAdvisory, match=message) as caught:
        parse_advisory(data)
    assert isinstance(caught.value, VulnDataError)


def test_bad_parts_are_skipped_with_a_reason() -> None:
    data = record("GHSA-c2qf-rxjj-qqgw")
    data["affected"] += [
        "not an object",
        {"ranges": []},  # no package: a GIT-only entry in some databases
        {"package": {"ecosystem": "npm"}},
        {
            "package": {"ecosystem": "npm", "name": "semver"},
            "ranges": [
                {"events": [{"introduced": "0"}]},
                {"type": "SEMVER", "events": [{"introduced": "0", "fixed": "1.0.0"}]},
                {"type": "SEMVER", "events": [{"introduced": 7}]},
                {"type": "SEMVER", "events": []},
                "nope",
                {"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]},
            ],
            "versions": ["1.0.0", 5, None, ""],
        },
    ]
    data["aliases"] = ["CVE-2022-25883", 12, "CVE-2022-25883"]
    del data["modified"]
    parsed = parse_advisory(data)
    assert parsed.skipped == (
        "modified: missing or unreadable timestamp",
        "affected 3: an affected entry is not an object",
        "affected 4: an affected entry without a package",
        "affected 5: an affected package without an ecosystem or a name",
        "npm/semver range 0: a range without a type",
        "npm/semver range 1: an event has 2 of introduced/fixed/last_affected/limit",
        "npm/semver range 2: an event whose introduced is not a version string",
        "npm/semver range 3: a SEMVER range without events",
        "npm/semver range 4: a range is not an object",
    )
    advisory = parsed.advisory
    assert advisory.aliases == ("CVE-2022-25883",)
    assert advisory.modified is None
    assert len(advisory.affected) == 4
    kept = advisory.affected[3]
    assert len(kept.ranges) == 1
    assert kept.versions == frozenset({"1.0.0"})
    assert kept.fixed_versions == ("1.0.1",)


def test_minimal_record() -> None:
    advisory = parse_advisory({"id": " OSV-2024-1 "}).advisory
    assert advisory.id == "OSV-2024-1"
    assert (advisory.affected, advisory.aliases, advisory.summary) == ((), (), "")
    assert advisory.severity is Severity.UNKNOWN
