"""A tag's vulnerabilities and packages as the tag page shows them: filtered by severity and
sorted on the server (query parameters), so the page works without JavaScript. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portside.scanning.severity import ORDER
from portside.ui.format import safe_link

SORTS = {
    "severity": "Severity",
    "package": "Package",
    "id": "Vulnerability",
    "fixed": "Fix available",
}


@dataclass(frozen=True)
class Link:
    text: str
    href: str | None  # None: shown as text only (not http/https)


@dataclass(frozen=True)
class FindingView:
    id: str
    aliases: list[str]
    severity: str
    package: str
    version: str
    ecosystem: str
    fixed_version: str | None
    summary: str
    links: list[Link]


@dataclass(frozen=True)
class PackageView:
    name: str
    version: str
    ecosystem: str
    purl: str
    findings: int


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def finding_view(raw: Mapping[str, Any]) -> FindingView:
    severity = _text(raw.get("severity"))
    aliases = raw.get("aliases")
    links = raw.get("links")
    return FindingView(
        id=_text(raw.get("id")),
        aliases=[_text(a) for a in aliases] if isinstance(aliases, list) else [],
        severity=severity if severity in ORDER else "Unknown",
        package=_text(raw.get("package")),
        version=_text(raw.get("version")),
        ecosystem=_text(raw.get("ecosystem")),
        fixed_version=_text(raw.get("fixed_version")) or None,
        summary=_text(raw.get("summary")),
        links=[Link(_text(u), safe_link(u)) for u in links] if isinstance(links, list) else [],
    )


def _rank(severity: str) -> int:
    return ORDER.index(severity) if severity in ORDER else len(ORDER)


def select_findings(
    raw: Iterable[Mapping[str, Any]], *, severity: str | None, sort: str
) -> list[FindingView]:
    """The findings of one severity (or all), sorted by ``sort`` (see :data:`SORTS`)."""
    views = [finding_view(f) for f in raw]
    if severity in ORDER:
        views = [v for v in views if v.severity == severity]
    keys = {
        "package": lambda v: (v.package, v.version, _rank(v.severity), v.id),
        "id": lambda v: (v.id, v.package),
        "fixed": lambda v: (v.fixed_version is None, _rank(v.severity), v.package, v.id),
    }
    key = keys.get(sort, lambda v: (_rank(v.severity), v.package, v.id))
    return sorted(views, key=key)


def severity_counts(raw: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """(severity, findings) for every level, worst first; zero counts included."""
    found = Counter(finding_view(f).severity for f in raw)
    return [(level, found.get(level, 0)) for level in ORDER]


def package_views(
    packages: Iterable[Mapping[str, Any]], findings: Iterable[Mapping[str, Any]]
) -> list[PackageView]:
    """Packages by name, each with how many findings it has."""
    per_package = Counter(
        (_text(f.get("ecosystem")), _text(f.get("package")), _text(f.get("version")))
        for f in findings
    )
    views = []
    for p in packages:
        name, version, ecosystem = (
            _text(p.get("name")),
            _text(p.get("version")),
            _text(p.get("ecosystem")),
        )
        views.append(
            PackageView(
                name=name,
                version=version,
                ecosystem=ecosystem,
                purl=_text(p.get("purl")),
                findings=per_package.get((ecosystem, name, version), 0),
            )
        )
    return sorted(views, key=lambda v: (v.name.lower(), v.version, v.ecosystem))
