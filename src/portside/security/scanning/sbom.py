"""CycloneDX 1.6 JSON for an image: one component per package (with its purl) and one
vulnerability per finding (aliases as references, the severity as a rating, ``affects``
pointing at the package's component). Built with cyclonedx-python-lib."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cyclonedx.model.bom import Bom
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

SEVERITIES = {
    "Critical": VulnerabilitySeverity.CRITICAL,
    "High": VulnerabilitySeverity.HIGH,
    "Medium": VulnerabilitySeverity.MEDIUM,
    "Low": VulnerabilitySeverity.LOW,
    "Negligible": VulnerabilitySeverity.INFO,
    "Unknown": VulnerabilitySeverity.UNKNOWN,
}
OSV = VulnerabilitySource(name="OSV")


def _source(identifier: str) -> VulnerabilitySource:
    if identifier.startswith("CVE-"):
        return VulnerabilitySource(name="NVD")
    if identifier.startswith("GHSA-"):
        return VulnerabilitySource(name="GitHub")
    return OSV


def render(
    image: str, packages: Iterable[dict[str, Any]], findings: Iterable[dict[str, Any]]
) -> str:
    bom = Bom()
    root = Component(name=image, type=ComponentType.CONTAINER, bom_ref=BomRef(image))
    bom.metadata.component = root
    refs: dict[tuple[str, str, str], str] = {}
    for package in packages:
        key = (package["ecosystem"], package["name"], package["version"])
        if key in refs:
            continue
        purl = package.get("purl")
        ref = purl or f"{key[0]}:{key[1]}@{key[2]}"
        refs[key] = ref
        bom.components.add(
            Component(
                name=package["name"],
                version=package["version"],
                type=ComponentType.LIBRARY
                if package["ecosystem"] in ("pypi", "npm")
                else ComponentType.APPLICATION,
                purl=PackageURL.from_string(purl) if purl else None,
                bom_ref=BomRef(ref),
            )
        )
    bom.register_dependency(root, list(bom.components))
    by_kind = {(k[1], k[2]): ref for k, ref in refs.items()}
    for n, finding in enumerate(findings):
        target = by_kind.get((finding["package"], finding["version"]))
        bom.vulnerabilities.add(
            Vulnerability(
                bom_ref=f"{finding['id']}#{n}",
                id=finding["id"],
                source=_source(finding["id"]),
                description=finding.get("summary") or None,
                references=[
                    VulnerabilityReference(id=alias, source=_source(alias))
                    for alias in finding.get("aliases") or []
                    if alias != finding["id"]
                ],
                ratings=[
                    VulnerabilityRating(
                        severity=SEVERITIES.get(finding["severity"], VulnerabilitySeverity.UNKNOWN)
                    )
                ],
                affects=[BomTarget(ref=target)] if target else [],
                recommendation=f"upgrade to {finding['fixed_version']}"
                if finding.get("fixed_version")
                else None,
            )
        )
    return str(JsonV1Dot6(bom).output_as_string(indent=2))
