"""Scanner backends beside the built-in one: each turns an image into findings.

A backend module exposes a class following :class:`ExternalScanner`; :func:`merge_findings`
merges the built-in scanner's findings with theirs, per vulnerability id and package.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from portside.errors import PortsideError
from portside.security.severity import ORDER


class BackendError(PortsideError):
    """A scanner backend refused or failed the scan (the scan fails with this error)."""


class BackendUnavailable(BackendError):
    """A scanner backend cannot be reached now, or is still working: the scan is retried."""


class ExternalScanner(Protocol):
    name: str

    async def scan(self, repository: str, digest: str) -> list[dict[str, Any]]:
        """Findings for the image, in Portside's finding shape: ``id``, ``aliases``,
        ``severity`` (Critical, High, Medium, Low, Negligible, Unknown), ``package``,
        ``version``, ``ecosystem``, ``fixed_version``, ``summary``, ``links``; plus
        ``scanners`` (the backends that reported it)."""
        ...


def _rank(severity: str) -> int:
    return ORDER.index(severity) if severity in ORDER else len(ORDER)


def merge_findings(*sources: tuple[str, Iterable[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One finding per (vulnerability id, package, version), from every (scanner, findings):
    the worst severity, every alias and link, a fixed version if any scanner knows one, and
    the scanners that reported it."""
    given = [(scanner, list(findings)) for scanner, findings in sources]
    present = [(scanner, findings) for scanner, findings in given if findings]
    if len(present) == 1 and all(f.get("scanners") == [present[0][0]] for f in present[0][1]):
        return present[0][1]  # one scanner reported: nothing to merge (the built-in's case)
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for scanner, findings in present:
        for finding in findings:
            key = (finding["id"], finding["package"], finding["version"])
            found = merged.get(key)
            if found is None:
                merged[key] = {**finding, "scanners": list(finding.get("scanners") or [scanner])}
                continue
            if _rank(finding["severity"]) < _rank(found["severity"]):
                found["severity"] = finding["severity"]
            found["aliases"] = list(
                dict.fromkeys([*found.get("aliases", []), *finding.get("aliases", [])])
            )
            found["links"] = list(
                dict.fromkeys([*found.get("links", []), *finding.get("links", [])])
            )
            found["fixed_version"] = found.get("fixed_version") or finding.get("fixed_version")
            found["summary"] = found.get("summary") or finding.get("summary")
            for name in finding.get("scanners") or [scanner]:
                if name not in found["scanners"]:
                    found["scanners"].append(name)
    return list(merged.values())
