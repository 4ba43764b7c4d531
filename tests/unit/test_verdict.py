"""The scan verdict (pure): "Passed" only with advisories loaded, and fresh, for every
ecosystem an image holds; otherwise what is missing. Also the sources' pure decisions:
the default sources, when a source is due, each ecosystem's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from portside.security.packages import OsRelease, Package
from portside.security.scanning.verdict import (
    INCOMPLETE,
    PASSED,
    EcosystemData,
    image_contents,
    stored_verdict,
    verdict,
)
from portside.security.sources.state import (
    SourceView,
    default_sources,
    due,
    ecosystem_data,
)
from portside.settings import VulndbSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
DEBIAN = OsRelease(id="debian", version_id="12", version_codename="bookworm")
FRESH = EcosystemData(records=100, last_success=NOW - timedelta(hours=3))


def deb(name: str) -> Package:
    return Package(name=name, version="1.0-1", ecosystem="deb", source_name=name)


def pypi(name: str) -> Package:
    return Package(name=name, version="1.0", ecosystem="pypi")


def test_passed_only_when_every_ecosystem_has_fresh_data() -> None:
    image = image_contents(DEBIAN, [deb("bash"), pypi("jinja2")])
    assert image.ecosystems == {"Debian:12", "PyPI"}
    data = {"Debian:12": FRESH, "PyPI": FRESH}
    result = verdict({}, image, data, NOW, WEEK)
    assert (result.label, result.complete, result.summary) == (
        PASSED,
        True,
        "no known vulnerabilities",
    )


def test_no_data_at_all_is_not_a_pass() -> None:
    image = image_contents(DEBIAN, [deb("bash")])
    result = verdict({}, image, {}, NOW, WEEK)
    assert result.label == INCOMPLETE
    assert result.gaps == ("no advisories loaded for Debian 12",)


def test_one_ecosystem_missing_is_named() -> None:
    image = image_contents(DEBIAN, [deb("bash"), pypi("jinja2")])
    result = verdict({}, image, {"PyPI": FRESH}, NOW, WEEK)
    assert result.gaps == ("no advisories loaded for Debian 12",)


def test_stale_data_says_its_age() -> None:
    image = image_contents(None, [pypi("jinja2")])
    old = EcosystemData(records=5, last_success=NOW - timedelta(days=9, hours=2))
    result = verdict({}, image, {"PyPI": old}, NOW, WEEK)
    assert (result.label, result.gaps) == (INCOMPLETE, ("PyPI: data 9 days old",))
    # Within the threshold it is fresh.
    assert verdict({}, image, {"PyPI": old}, NOW, timedelta(days=10)).label == PASSED


def test_data_of_unknown_age_is_not_fresh() -> None:
    image = image_contents(None, [pypi("jinja2")])
    result = verdict({}, image, {"PyPI": EcosystemData(5, None)}, NOW, WEEK)
    assert result.gaps == ("PyPI: age of the data unknown",)


def test_an_unrecognised_os_or_an_empty_image_is_not_checked() -> None:
    fedora = OsRelease(id="fedora", version_id="40")
    unknown = verdict({}, image_contents(fedora, [Package("bash", "5", "rpm")]), {}, NOW, WEEK)
    assert unknown.gaps == ("OS not recognised: packages not checked",)
    # A multi-arch index: no OS, no packages.
    empty = verdict({}, image_contents(None, []), {}, NOW, WEEK)
    assert (empty.label, empty.gaps) == (INCOMPLETE, ("OS not recognised: packages not checked",))


def test_findings_keep_their_severity_and_still_say_what_is_missing() -> None:
    image = image_contents(DEBIAN, [deb("bash"), pypi("jinja2")])
    result = verdict({"High": 2, "Low": 1}, image, {"PyPI": FRESH}, NOW, WEEK)
    assert (result.label, result.complete) == ("High", False)
    assert result.gaps == ("no advisories loaded for Debian 12",)


def test_stored_verdict_reads_the_stored_records() -> None:
    os_record = {"id": "debian", "version_id": "12"}
    packages: list[dict[str, Any]] = [{"name": "bash", "version": "5.2-1", "ecosystem": "deb"}]
    data = {"Debian:12": FRESH}
    assert stored_verdict(None, os_record, packages, data, NOW, WEEK).label == PASSED
    assert stored_verdict(None, os_record, packages, {}, NOW, WEEK).label == INCOMPLETE


def test_default_sources_are_the_families_of_the_ecosystems() -> None:
    found = default_sources(
        "https://mirror.example/osv/",
        ["Debian:12", "Debian:11", "PyPI", "Red Hat:enterprise_linux:9"],
    )
    assert found == [
        "https://mirror.example/osv/Debian/all.zip",
        "https://mirror.example/osv/PyPI/all.zip",
        "https://mirror.example/osv/Red%20Hat/all.zip",
    ]


def test_a_source_is_due_after_its_interval_or_its_backoff() -> None:
    settings = VulndbSettings(interval=3600, backoff_base=60, backoff_max=600)
    assert due(None, NOW, settings)
    ok = SourceView("u", NOW - timedelta(minutes=59), NOW, 0)
    assert not due(ok, NOW, settings)
    assert due(ok, NOW + timedelta(minutes=1), settings)
    failing = SourceView("u", NOW, None, 3)  # third failure: 240 s
    assert not due(failing, NOW + timedelta(seconds=239), settings)
    assert due(failing, NOW + timedelta(seconds=240), settings)


def test_ecosystem_data_takes_the_newest_success_of_a_source_holding_it() -> None:
    old, new = NOW - timedelta(days=3), NOW - timedelta(days=1)
    sources: list[Any] = [
        SimpleNamespace(last_success=old, ecosystems={"PyPI": 3, "npm": 2}),
        SimpleNamespace(last_success=new, ecosystems={"PyPI": 1}),
        SimpleNamespace(last_success=None, ecosystems={"Debian:12": 5}),
    ]
    found = ecosystem_data({"PyPI": 4, "npm": 2, "Debian:12": 9}, sources)
    assert found == {
        "Debian:12": EcosystemData(9, None),
        "PyPI": EcosystemData(4, new),
        "npm": EcosystemData(2, old),
    }
