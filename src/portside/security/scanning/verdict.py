"""What a scan may claim (pure): "no known vulnerabilities" only when advisories are loaded,
and fresh, for every ecosystem the image holds; otherwise what is missing.

The verdict is a function of the findings' counts, what the image holds (its ecosystems,
whether its OS was recognised), the data loaded per ecosystem, and now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from portside.security.advisories.ecosystems import index_ecosystem, os_ecosystem
from portside.security.packages import OsRelease, Package
from portside.security.scanning.matching import osv_packages
from portside.security.scanning.records import os_of, packages_of
from portside.security.severity import ORDER


@dataclass(frozen=True)
class EcosystemData:
    """The vulnerability data loaded for one ecosystem (an index key such as ``Debian:12``)."""

    records: int
    last_success: datetime | None  # newest successful update of a source holding it


PASSED = "Passed"
INCOMPLETE = "Incomplete"


@dataclass(frozen=True)
class ImageContents:
    """What a scan found in an image, as far as the verdict cares."""

    ecosystems: frozenset[str]  # index keys of its packages' OSV ecosystems (``Debian:12``)
    os_recognised: bool  # its OS has OSV data (or it has no OS packages to check)
    packages: int


def image_contents(os_release: OsRelease | None, packages: Iterable[Package]) -> ImageContents:
    """An image's contents from its stored scan: an OS that OSV has no ecosystem for (or none
    found, as in a multi-arch index) leaves its OS packages unchecked."""
    listed = list(packages)
    placed = osv_packages(os_release, listed)
    has_os_packages = any(p.from_os for p in listed)
    os_known = os_release is not None and os_ecosystem(os_release) is not None
    return ImageContents(
        ecosystems=frozenset(index_ecosystem(p.ecosystem) for p in placed),
        os_recognised=os_known or (bool(listed) and not has_os_packages),
        packages=len(listed),
    )


@dataclass(frozen=True)
class Verdict:
    label: str  # "Passed", the worst severity found, or "Incomplete"
    complete: bool  # every ecosystem of the image was checked against fresh data
    gaps: tuple[str, ...]  # what is missing, as an operator reads it
    # The severity counts it rests on (findings an exception allows left out); None: not known.
    counts: Mapping[str, int] | None = None

    @property
    def summary(self) -> str:
        if self.label == PASSED:
            return "no known vulnerabilities"
        return "; ".join(self.gaps) if self.label == INCOMPLETE else self.label


def ecosystem_label(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian 12``; ``Alpine:v3.20`` -> ``Alpine v3.20``."""
    return ecosystem.replace(":", " ").strip()


def gaps(
    image: ImageContents,
    data: Mapping[str, EcosystemData],
    now: datetime,
    stale_after: timedelta,
) -> tuple[str, ...]:
    found: list[str] = []
    if not image.os_recognised:
        found.append("OS not recognised: packages not checked")
    for ecosystem in sorted(image.ecosystems):
        loaded = data.get(ecosystem)
        if loaded is None or loaded.records == 0:
            found.append(f"no advisories loaded for {ecosystem_label(ecosystem)}")
        elif loaded.last_success is None:
            found.append(f"{ecosystem_label(ecosystem)}: age of the data unknown")
        elif now - loaded.last_success > stale_after:
            days = (now - loaded.last_success).days
            found.append(f"{ecosystem_label(ecosystem)}: data {days} days old")
    return tuple(found)


def verdict(
    counts: Mapping[str, Any] | None,
    image: ImageContents,
    data: Mapping[str, EcosystemData],
    now: datetime,
    stale_after: timedelta,
) -> Verdict:
    """The worst severity found when there are findings (what is missing is still listed);
    "Passed" only with nothing found and nothing missing; "Incomplete" otherwise."""
    missing = gaps(image, data, now, stale_after)
    found = [level for level in ORDER if counts and counts.get(level)]
    counted = {level: int(counts[level]) for level in found} if counts else {}
    if found:
        return Verdict(found[0], not missing, missing, counted)
    if missing:
        return Verdict(INCOMPLETE, False, missing, counted)
    return Verdict(PASSED, True, (), counted)


def stored_verdict(
    counts: Mapping[str, Any] | None,
    os_record: Mapping[str, Any] | None,
    package_records: Iterable[Mapping[str, Any]] | None,
    data: Mapping[str, EcosystemData],
    now: datetime,
    stale_after: timedelta,
) -> Verdict:
    """The verdict of a stored scan (``scan_targets`` row's counts, os and packages)."""
    image = image_contents(os_of(os_record), packages_of(package_records or []))
    return verdict(counts, image, data, now, stale_after)
