"""A scanner backend for tests and demos (as Portus had): fake findings, no network.

The findings are derived from the digest alone, so the same image always gives the same ones:
the SHA-256 of the digest string decides how many (one to three), their severities, versions
and whether a fixed version is known. Every id starts with ``DUMMY-`` and every package is a
``dummy-package-N`` of the ``dummy`` ecosystem, so nobody mistakes them for real advisories.
"""

from __future__ import annotations

import hashlib
from typing import Any

from portside.security.severity import ORDER


def fake_findings(digest: str) -> list[dict[str, Any]]:
    """The dummy scanner's findings for ``digest`` (pure, deterministic)."""
    seed = hashlib.sha256(digest.encode()).digest()
    tag = seed.hex()[:8].upper()
    findings: list[dict[str, Any]] = []
    for n in range(1 + seed[0] % 3):
        severity_byte, minor, patch, fixed = seed[1 + 4 * n : 5 + 4 * n]
        version = f"1.{minor % 10}.{patch % 10}"
        findings.append(
            {
                "id": f"DUMMY-{tag}-{n + 1}",
                "aliases": [],
                "severity": ORDER[severity_byte % len(ORDER)],
                "package": f"dummy-package-{n + 1}",
                "version": version,
                "ecosystem": "dummy",
                "fixed_version": f"1.{minor % 10}.{patch % 10 + 1}" if fixed % 4 else None,
                "summary": "A fake finding of the dummy scanner (derived from the digest)",
                "links": [],
            }
        )
    return findings


class DummyScanner:
    """Fake findings derived from the digest; never touches the network or the registry."""

    name = "dummy"

    async def scan(self, repository: str, digest: str) -> list[dict[str, Any]]:
        return [{**finding, "scanners": [self.name]} for finding in fake_findings(digest)]
