"""A tag's vulnerabilities and packages as the tag page shows them: filtered by severity and
sorted on the server (query parameters), so the page works without JavaScript. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from portside.security.scanning.matching import (
    finding_key,
    os_osv_ecosystem,
    osv_package,
    package_key,
)
from portside.security.scanning.records import os_of, package_of
from portside.security.severity import ORDER
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
    allowed: str | None = None  # "allowed by NAME until DATE: REASON" when an exception covers it


def allowed_text(raw: Any) -> str | None:
    """How an allowed finding says so (the ``allowed`` a finding carries), None when it is not."""
    if not isinstance(raw, Mapping):
        return None
    until = _text(raw.get("until"))[:10]
    scope = "everywhere" if raw.get("namespace") is None else "in this namespace"
    return f"allowed {scope} by {_text(raw.get('by'))} until {until}: {_text(raw.get('reason'))}"


@dataclass(frozen=True)
class PackageView:
    name: str
    version: str
    ecosystem: str
    purl: str
    findings: int
    worst: str | None = None  # the worst severity of its findings


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
        allowed=allowed_text(raw.get("allowed")),
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


MAX_PACKAGE_QUERY = 100


def package_query(raw: str | None) -> str:
    """The package filter (``?pkg=``) as the page uses it: trimmed and bounded."""
    return (raw or "").strip()[:MAX_PACKAGE_QUERY]


@dataclass(frozen=True)
class PackageTable:
    """The tag page's packages: ``rows`` matching ``query`` (all without one), vulnerable ones
    first; ``total`` and ``vulnerable`` count every package of the image."""

    rows: list[PackageView]
    total: int
    vulnerable: int
    query: str


def _package_key(os_eco: str | None, record: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """The key a finding of this stored package records (the matcher's own mapping from the
    package type and the image's OS to the OSV ecosystem); None when OSV has no ecosystem."""
    package = package_of(record)
    placed = osv_package(os_eco, package) if package is not None else None
    return package_key(placed) if placed is not None else None


def _worse(a: str | None, b: str) -> str:
    return b if a is None or _rank(b) < _rank(a) else a


def package_table(
    os: Mapping[str, Any] | None,
    packages: Iterable[Mapping[str, Any]],
    findings: Iterable[Mapping[str, Any]],
    query: str = "",
) -> PackageTable:
    """Each package with how many findings it has and the worst of them.

    A finding belongs to the package whose (OSV ecosystem, name, version) it records: a ``deb``
    package of a Debian 12 image is ``Debian:12``, a ``pypi`` one ``PyPI``
    (:func:`portside.security.scanning.matching.osv_package`). A finding whose ecosystem names no
    package's (a backend that reports none, such as a Harbor adapter) counts for the packages of
    its name and version.
    """
    os_eco = os_osv_ecosystem(os_of(os))
    records = list(packages)
    keys = [_package_key(os_eco, r) for r in records]
    known = {k for k in keys if k is not None}
    by_key: dict[tuple[str, str, str], list[str]] = {}
    loose: dict[tuple[str, str], list[str]] = {}
    for raw in findings:
        key = finding_key(raw)
        if not key[1]:
            continue  # names no package
        severity = finding_view(raw).severity
        if key in known:
            by_key.setdefault(key, []).append(severity)
        else:
            loose.setdefault(key[1:], []).append(severity)
    views = []
    for record, own in zip(records, keys, strict=True):
        name, version = _text(record.get("name")), _text(record.get("version"))
        found = [*(by_key.get(own, []) if own else []), *loose.get((name, version), [])]
        worst: str | None = None
        for severity in found:
            worst = _worse(worst, severity)
        views.append(
            PackageView(
                name=name,
                version=version,
                ecosystem=_text(record.get("ecosystem")),
                purl=_text(record.get("purl")),
                findings=len(found),
                worst=worst,
            )
        )
    needle = query.casefold()
    rows = [v for v in views if needle in v.name.casefold()] if needle else views
    rows.sort(
        key=lambda v: (
            not v.findings,
            _rank(v.worst or ""),
            -v.findings,
            v.name.lower(),
            v.version,
            v.ecosystem,
        )
    )
    vulnerable = sum(1 for v in views if v.findings)
    return PackageTable(rows=rows, total=len(views), vulnerable=vulnerable, query=query)
