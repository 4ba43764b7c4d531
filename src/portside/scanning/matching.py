"""Matching stored package lists against the stored advisories (no registry download)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from portside.scanning import advisories
from portside.scanning.severity import counts
from portside.vulndb.ecosystems import (
    OsRelease,
    index_ecosystem,
    lookup_ecosystems,
    normalize_name,
    os_ecosystem,
    package_ecosystem,
)
from portside.vulndb.match import AdvisoryIndex, Package, match_packages

OS_KINDS = frozenset({"deb", "apk", "rpm"})


def osv_packages(os: dict[str, Any] | None, packages: Iterable[dict[str, Any]]) -> list[Package]:
    """Stored package records as the matcher's packages, each in its OSV ecosystem."""
    os_eco = (
        os_ecosystem(
            OsRelease(
                id=os.get("id") or "",
                version_id=os.get("version_id") or "",
                version_codename=os.get("version_codename") or "",
            )
        )
        if os
        else None
    )
    out = []
    for record in packages:
        kind = record["ecosystem"]
        ecosystem = os_eco if kind in OS_KINDS else package_ecosystem(kind)
        if ecosystem is None:
            continue
        out.append(
            Package(
                ecosystem=ecosystem,
                name=record["name"],
                version=record["version"],
                source_name=record.get("source_name"),
                source_version=record.get("source_version"),
            )
        )
    return out


def lookup_keys(packages: Iterable[Package]) -> set[tuple[str, str]]:
    keys = set()
    for package in packages:
        for ecosystem in lookup_ecosystems(package.ecosystem):
            for name in {package.name, package.source_name or package.name}:
                keys.add((index_ecosystem(ecosystem), normalize_name(package.ecosystem, name)))
    return keys


class FindingCache:
    """Finding dicts by (advisory, package, version): images share most of their packages, so
    a re-match of many images builds each finding once. The dicts are never modified."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.aliases: dict[str, list[str]] = {}


def findings_of(
    index: AdvisoryIndex,
    packages: list[Package],
    details: dict[str, tuple[str | None, list[str]]],
    cache: FindingCache | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    cache = cache or FindingCache()
    result = match_packages(index, packages)
    findings: list[dict[str, Any]] = []
    for finding in result.findings:
        package = finding.package
        key = (finding.advisory_id, package.ecosystem, package.name, package.version)
        found = cache.findings.get(key)
        if found is None:
            aliases = cache.aliases.get(finding.advisory_id)
            if aliases is None:
                aliases = list(dict.fromkeys((*finding.aliases, *finding.cve_ids)))
                cache.aliases[finding.advisory_id] = aliases
            summary, links = details.get(finding.advisory_id, (None, []))
            found = {
                "id": finding.advisory_id,
                "aliases": aliases,
                "severity": str(finding.severity),
                "package": package.name,
                "version": package.version,
                "ecosystem": package.ecosystem,
                "fixed_version": finding.fixed_version,
                "summary": summary,
                "links": links,
                "scanners": ["builtin"],
            }
            cache.findings[key] = found
        findings.append(found)
    return findings, counts(f["severity"] for f in findings)


async def match(
    session: AsyncSession, os: dict[str, Any] | None, packages: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Findings and severity counts for one image's stored packages."""
    wanted = osv_packages(os, packages)
    index, details = await advisories.load_index_and_details(session, lookup_keys(wanted))
    return findings_of(index, wanted, details)
