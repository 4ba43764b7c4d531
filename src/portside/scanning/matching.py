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


def findings_of(
    index: AdvisoryIndex,
    packages: list[Package],
    details: dict[str, tuple[str | None, list[str]]],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    result = match_packages(index, packages)
    findings: list[dict[str, Any]] = []
    for finding in result.findings:
        summary, links = details.get(finding.advisory_id, (None, []))
        findings.append(
            {
                "id": finding.advisory_id,
                "aliases": list(dict.fromkeys((*finding.aliases, *finding.cve_ids))),
                "severity": str(finding.severity),
                "package": finding.package.name,
                "version": finding.package.version,
                "ecosystem": finding.package.ecosystem,
                "fixed_version": finding.fixed_version,
                "summary": summary,
                "links": links,
            }
        )
    return findings, counts(f["severity"] for f in findings)


async def match(
    session: AsyncSession, os: dict[str, Any] | None, packages: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Findings and severity counts for one image's stored packages."""
    wanted = osv_packages(os, packages)
    index = await advisories.load_index(session, lookup_keys(wanted))
    ids = [ref for entries in index.entries.values() for e in entries for ref in [e.advisory.id]]
    details = await advisories.links_and_summaries(session, ids)
    return findings_of(index, wanted, details)
