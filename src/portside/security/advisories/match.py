"""Match installed packages against an advisory index (pure: data in, findings out).

The packages come placed in their OSV ecosystem (:class:`Placed`). OS packages are looked up by
their *source* package (name and version) when the scanner found one, since Debian, Ubuntu,
Alpine and the RPM distributions key their advisories by source; else by the binary name. Red
Hat advisories can name binary RPMs, so there both names are searched. A package whose
ecosystem has sibling spellings (SUSE products and their modules) is searched under each
(:func:`~portside.security.advisories.ecosystems.lookup_ecosystems`); an advisory is reported
once per package.

Results are grouped per package (:class:`PackageMatches`), sharing the index's memoized answers;
:attr:`MatchResult.findings` flattens them into one :class:`Finding` per (package, advisory).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from portside.security.advisories.ecosystems import (
    BINARY_NAMED_FAMILIES,
    family,
    lookup_ecosystems,
    normalize_name,
)
from portside.security.advisories.index import AdvisoryIndex, AdvisoryRef, Match, build_index
from portside.security.packages import Package
from portside.security.severity import Severity

__all__ = [
    "AdvisoryIndex",
    "AdvisoryRef",
    "Finding",
    "Match",
    "MatchResult",
    "PackageMatches",
    "Placed",
    "build_index",
    "cve_ids",
    "match_packages",
    "package_matches",
]


class Placed(NamedTuple):
    """A package in the OSV ecosystem its advisories use (``Debian:12``, ``PyPI``...): what the
    matcher looks up. The package type (``deb``, ``pypi``) stays on :attr:`package`."""

    ecosystem: str
    package: Package

    @property
    def name(self) -> str:
        return self.package.name

    @property
    def version(self) -> str:
        return self.package.version

    @property
    def source_name(self) -> str | None:
        return self.package.source_name

    @property
    def source_version(self) -> str | None:
        return self.package.source_version


@dataclass(frozen=True)
class PackageMatches:
    package: Placed
    matches: tuple[Match, ...]


class Finding(NamedTuple):
    package: Placed
    advisory_id: str
    aliases: tuple[str, ...]
    related: tuple[str, ...]
    severity: Severity
    fixed_version: str | None  # the smallest ``fixed`` above the installed version, if known

    @property
    def cve_ids(self) -> tuple[str, ...]:
        """The CVE ids this finding is known by (its id, aliases, upstream and related ids)."""
        return cve_ids(self.advisory_id, self.aliases, self.related)


def cve_ids(advisory_id: str, aliases: Iterable[str], related: Iterable[str]) -> tuple[str, ...]:
    """The CVE ids among an advisory's id, aliases and upstream/related ids, each once."""
    ids = (advisory_id, *aliases, *related)
    return tuple(dict.fromkeys(i for i in ids if i.startswith("CVE-")))


@dataclass(frozen=True)
class MatchResult:
    affected: tuple[PackageMatches, ...]  # only packages with at least one match, input order
    undecided: int  # (package, advisory) pairs that could not be decided (unreadable versions)

    @property
    def findings(self) -> list[Finding]:
        """One finding per (package, advisory)."""
        return [_finding(item.package, m) for item in self.affected for m in item.matches]


def _finding(package: Placed, match: Match) -> Finding:
    ref: AdvisoryRef = match.advisory
    return Finding(package, ref.id, ref.aliases, ref.related, ref.severity, match.fixed_version)


def _lookups(package: Placed) -> Iterator[tuple[str, str, str]]:
    """(index ecosystem, normalized name, version) to search for ``package``."""
    if package.source_name:
        names = [(package.source_name, package.source_version or package.version)]
        if family(package.ecosystem) in BINARY_NAMED_FAMILIES:
            names.append((package.name, package.version))
    else:
        names = [(package.name, package.version)]
    for ecosystem in lookup_ecosystems(package.ecosystem):
        for name, version in names:
            yield ecosystem, normalize_name(package.ecosystem, name), version


def package_matches(index: AdvisoryIndex, package: Placed) -> tuple[tuple[Match, ...], int]:
    """The advisories affecting one package, each once, and how many could not decide."""
    answers = [index.matches(*lookup) for lookup in _lookups(package)]
    undecided = sum(count for _, count in answers)
    if len(answers) == 1:
        return answers[0][0], undecided
    first: dict[str, Match] = {}
    for found, _ in answers:
        for match in found:
            first.setdefault(match.advisory.id, match)
    return tuple(first.values()), undecided


def match_packages(index: AdvisoryIndex, packages: Iterable[Placed]) -> MatchResult:
    """The advisories affecting each package (withdrawn ones are not in the index)."""
    affected: list[PackageMatches] = []
    undecided = 0
    for package in packages:
        matches, count = package_matches(index, package)
        undecided += count
        if matches:
            affected.append(PackageMatches(package, matches))
    return MatchResult(tuple(affected), undecided)
