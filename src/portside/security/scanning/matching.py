"""Matching stored package lists against the stored advisories (no registry download)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from portside.security.advisories.ecosystems import (
    index_ecosystem,
    lookup_ecosystems,
    normalize_name,
    os_ecosystem,
    package_ecosystem,
)
from portside.security.advisories.match import (
    AdvisoryIndex,
    Match,
    Placed,
    cve_ids,
    package_matches,
)
from portside.security.packages import OsRelease, Package
from portside.security.scanning import advisory_store
from portside.security.scanning.records import package_of
from portside.security.severity import counts


def os_osv_ecosystem(os_release: OsRelease | None) -> str | None:
    """The OSV ecosystem of an image's OS (``Debian:12``); None without one."""
    return os_ecosystem(os_release) if os_release is not None else None


def osv_package(os_eco: str | None, package: Package) -> Placed | None:
    """A package placed in its OSV ecosystem (an OS package in ``os_eco``, the image's); None
    when OSV has no ecosystem for it."""
    ecosystem = os_eco if package.from_os else package_ecosystem(package.ecosystem)
    return Placed(ecosystem, package) if ecosystem is not None else None


def osv_packages(os_release: OsRelease | None, packages: Iterable[Package]) -> list[Placed]:
    """An image's packages placed in their OSV ecosystems, those OSV has none for left out."""
    os_eco = os_osv_ecosystem(os_release)
    return [p for package in packages if (p := osv_package(os_eco, package)) is not None]


_MATCHED_FIELDS = {"ecosystem", "name", "version", "source_name", "source_version"}
_MATCHED = itemgetter(*sorted(_MATCHED_FIELDS))


class PlacedReader:
    """Stored package records (``scan_targets.packages``) placed in their OSV ecosystems for
    matching, each distinct (OS ecosystem, type, name, version, source) built once: images share
    most of their packages. A package read here is for matching only: its purl, layer, path and
    architecture are those of the first record met (matching reads none of them)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[Any, ...], Placed | None] = {}
        self._fresh: list[Placed] = []

    def fresh(self) -> list[Placed]:
        """The packages built since the last call: every package met since is one of them or
        one met before (what a caller keeps per distinct package, it works out for these)."""
        fresh, self._fresh = self._fresh, []
        return fresh

    def placed(
        self, os_release: OsRelease | None, records: Iterable[Mapping[str, Any]]
    ) -> list[Placed]:
        os_eco = os_osv_ecosystem(os_release)
        memo = self._memo
        found: list[Placed] = []
        for record in records:
            try:
                key = (os_eco, *_MATCHED(record))
                placed = memo[key]
            except KeyError:  # not met yet, or a field missing (an older or damaged record)
                package = package_of(record)
                placed = osv_package(os_eco, package) if package else None
                if record.keys() >= _MATCHED_FIELDS:
                    memo[key] = placed
                if placed is not None:
                    self._fresh.append(placed)
            except TypeError:  # not a mapping, or an unhashable field: read on its own
                package = package_of(record) if isinstance(record, Mapping) else None
                placed = osv_package(os_eco, package) if package else None
                if placed is not None:
                    self._fresh.append(placed)
            if placed is not None:
                found.append(placed)
        return found


def package_key(package: Placed) -> tuple[str, str, str]:
    """(OSV ecosystem, name, version): what a finding of ``package`` records of it
    (:func:`finding_key`)."""
    return (package.ecosystem, package.name, package.version)


def finding_key(finding: Mapping[str, Any]) -> tuple[str, str, str]:
    """(ecosystem, package, version) as a finding records them: the :func:`package_key` of the
    package it was found in (the built-in scanner's findings; another backend's may name no
    OSV ecosystem)."""
    return (
        str(finding.get("ecosystem") or ""),
        str(finding.get("package") or ""),
        str(finding.get("version") or ""),
    )


def lookup_keys(packages: Iterable[Placed]) -> set[tuple[str, str]]:
    """The index keys the packages are looked up under (each ecosystem's spellings worked out
    once, not once per package)."""
    names: dict[str, set[str]] = {}
    for package in packages:
        names_in = names.setdefault(package.ecosystem, set())
        names_in.add(package.name)
        names_in.add(package.source_name or package.name)
    keys: set[tuple[str, str]] = set()
    for ecosystem, names_in in names.items():
        under = {index_ecosystem(e) for e in lookup_ecosystems(ecosystem)}
        for name in names_in:
            normalized = normalize_name(ecosystem, name)
            keys.update((key_ecosystem, normalized) for key_ecosystem in under)
    return keys


class FindingCache:
    """Finding dicts by (advisory, package, version), and each package's list of them: images
    share most of their packages, so a re-match of many images matches each package and builds
    each finding once. The dicts and lists are never modified."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.aliases: dict[str, list[str]] = {}
        # By what matching reads of a package (:func:`package_findings`), not by the whole
        # package: the same package in two images' different layers is matched once.
        self.packages: dict[tuple[str, str, str, str | None, str | None], list[dict[str, Any]]] = {}


def _finding(
    package: Placed, match: Match, details: advisory_store.Details, cache: FindingCache
) -> dict[str, Any]:
    ref = match.advisory
    key = (ref.id, package.ecosystem, package.name, package.version)
    found = cache.findings.get(key)
    if found is None:
        aliases = cache.aliases.get(ref.id)
        if aliases is None:
            aliases = list(
                dict.fromkeys((*ref.aliases, *cve_ids(ref.id, ref.aliases, ref.related)))
            )
            cache.aliases[ref.id] = aliases
        summary, links = details.get(ref.id, (None, []))
        found = {
            "id": ref.id,
            "aliases": aliases,
            "severity": str(ref.severity),
            "package": package.name,
            "version": package.version,
            "ecosystem": package.ecosystem,
            "fixed_version": match.fixed_version,
            "summary": summary,
            "links": links,
            "scanners": ["builtin"],
        }
        cache.findings[key] = found
    return found


def package_findings(
    index: AdvisoryIndex,
    packages: list[Placed],
    details: advisory_store.Details,
    cache: FindingCache,
) -> list[list[dict[str, Any]]]:
    """The built-in scanner's findings for one image's packages, a list per vulnerable package
    in package order (lists shared, through ``cache``, with the other images that have the same
    package); a package without findings adds no list."""
    sections: list[list[dict[str, Any]]] = []
    known = cache.packages
    for package in packages:
        inner = package.package
        key = (
            package.ecosystem,
            inner.name,
            inner.version,
            inner.source_name,
            inner.source_version,
        )  # what matching and a finding read of a package (its layer, path, purl and arch
        # play no part): made here, in the loop run for every package of every image
        found = known.get(key)
        if found is None:
            matches, _ = package_matches(index, package)
            found = [_finding(package, match, details, cache) for match in matches]
            known[key] = found
        if found:
            sections.append(found)
    return sections


def builtin_findings(
    index: AdvisoryIndex,
    packages: list[Placed],
    details: advisory_store.Details,
    cache: FindingCache | None = None,
) -> list[dict[str, Any]]:
    """The built-in scanner's findings for one image's packages, in package order."""
    sections = package_findings(index, packages, details, cache or FindingCache())
    return list(chain.from_iterable(sections))


def findings_of(
    index: AdvisoryIndex,
    packages: list[Placed],
    details: advisory_store.Details,
    cache: FindingCache | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    findings = builtin_findings(index, packages, details, cache)
    return findings, counts(f["severity"] for f in findings)


async def match(
    session: AsyncSession, os_release: OsRelease | None, packages: Iterable[Package]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Findings and severity counts for one image's packages."""
    wanted = osv_packages(os_release, packages)
    index, details = await advisory_store.load_index_and_details(session, lookup_keys(wanted))
    return findings_of(index, wanted, details)
