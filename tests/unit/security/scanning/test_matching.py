"""Findings from the index, per package and cached: the same as one finding per match."""

from typing import Any

from portside.security.advisories.ecosystems import (
    index_ecosystem,
    lookup_ecosystems,
    normalize_name,
)
from portside.security.advisories.match import Placed, build_index, match_packages
from portside.security.advisories.osv import parse_advisory
from portside.security.scanning.matching import FindingCache, findings_of, lookup_keys
from tests.unit.security.advisories import synthetic
from tests.unit.security.advisories.synthetic import placed


def plain_findings(index: Any, packages: list[Placed], details: Any) -> list[dict[str, Any]]:
    """A finding per (package, advisory), built from the match result with no cache."""
    return [
        {
            "id": f.advisory_id,
            "aliases": list(dict.fromkeys((*f.aliases, *f.cve_ids))),
            "severity": str(f.severity),
            "package": f.package.name,
            "version": f.package.version,
            "ecosystem": f.package.ecosystem,
            "fixed_version": f.fixed_version,
            "summary": details.get(f.advisory_id, (None, []))[0],
            "links": details.get(f.advisory_id, (None, []))[1],
            "scanners": ["builtin"],
        }
        for f in match_packages(index, packages).findings
    ]


def test_cached_findings_equal_plain_ones() -> None:
    advisories = [parse_advisory(r).advisory for r in synthetic.records(3000, dense=True)]
    index = build_index(advisories)
    details = {a.id: (f"summary of {a.id}", [f"https://example.com/{a.id}"]) for a in advisories}
    cache = FindingCache()
    lists = list(synthetic.package_lists(40))
    found = 0
    for packages in lists:
        findings, counts = findings_of(index, packages, details, cache)
        assert findings == plain_findings(index, packages, details)
        assert sum(counts.values()) == len(findings)
        found += len(findings)
    assert found > 1000


def test_lookup_keys_are_each_package_name_under_each_spelling() -> None:
    packages = [
        placed("PyPI", "Jinja2", "3.1.2"),
        placed("PyPI", "zope.interface", "6.0"),
        placed("Debian:12", "libc6", "2.36-9", "glibc", "2.36-9"),
        placed("Ubuntu:22.04:LTS", "openssl", "3.0.2-0ubuntu1"),
        placed("SUSE:Linux Enterprise Server 15 SP5", "libopenssl3", "3.0.8", "openssl", "3.0.8"),
    ]
    expected = {
        (index_ecosystem(ecosystem), normalize_name(p.ecosystem, name))
        for p in packages
        for ecosystem in lookup_ecosystems(p.ecosystem)
        for name in {p.name, p.source_name or p.name}
    }
    assert lookup_keys(packages) == expected
    assert ("PyPI", "jinja2") in expected and ("Ubuntu:22.04", "openssl") in expected
    assert ("SUSE:Linux Enterprise Server 15 SP5-LTSS", "libopenssl3") in expected
