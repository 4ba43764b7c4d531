"""Keeping findings current: after a vulnerability-data import, every stored package list is
matched again (no registry download), and new findings are recorded as activities."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.engine import Database
from portside.db.models import ScanTarget
from portside.index import store
from portside.scanning import advisories
from portside.scanning.backends import merge_findings
from portside.scanning.matching import FindingCache, findings_of, lookup_keys, osv_packages
from portside.scanning.severity import ORDER
from portside.scanning.severity import counts as severity_counts

log = logging.getLogger(__name__)

SCANNER_ACTOR = "portside-scanner"


@dataclass
class RematchResult:
    images: int = 0
    changed: int = 0
    new_findings: Counter[str] = field(default_factory=Counter)


def external_findings(target: ScanTarget) -> dict[str, list[dict[str, Any]]]:
    """What the other scanner backends reported at the last scan, by backend: a re-match
    changes only the built-in scanner's part."""
    others: dict[str, list[dict[str, Any]]] = {}
    for finding in target.findings or []:
        for scanner in finding.get("scanners", []):
            if scanner != "builtin":
                plain = {k: v for k, v in finding.items() if k != "scanners"}
                others.setdefault(scanner, []).append(plain)
    return others


def _identity(finding: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a finding different for its reader: a changed severity or fix counts."""
    return (
        finding["id"],
        finding["package"],
        finding["version"],
        finding["severity"],
        finding.get("fixed_version"),
    )


def describe_new(new: Counter[str]) -> str:
    return ", ".join(f"{new[level]} new {level}" for level in ORDER if new.get(level))


async def rematch(
    db: Database, now: datetime, changed_keys: set[tuple[str, str]] | None = None
) -> RematchResult:
    """Match every scanned image again (only those touching ``changed_keys``, when given)."""
    result = RematchResult()
    async with db.read() as session:
        targets = list(
            (
                await session.scalars(
                    select(ScanTarget).where(
                        ScanTarget.status == "done", ScanTarget.packages.is_not(None)
                    )
                )
            ).all()
        )
    prepared = []
    for target in targets:
        packages = osv_packages(target.os, target.packages or [])
        keys = lookup_keys(packages)
        if changed_keys is not None and not keys & changed_keys:
            continue
        prepared.append((target, packages, keys))
    result.images = len(prepared)
    if not prepared:
        return result
    async with db.read() as session:
        index, details = await advisories.load_index_and_details(
            session, set().union(*(k for _, _, k in prepared))
        )
    cache = FindingCache()
    async with db.write() as session:
        for target, packages, _ in prepared:
            builtin, _ = findings_of(index, packages, details, cache)
            findings = merge_findings(("builtin", builtin), *external_findings(target).items())
            counts = severity_counts(f["severity"] for f in findings)
            before = target.findings or []
            if {_identity(f) for f in findings} == {_identity(f) for f in before}:
                continue  # the same findings, severities and fixes: nothing to write
            old = {f["id"] for f in before}
            new = [f for f in findings if f["id"] not in old]
            result.changed += 1
            await session.execute(
                update(ScanTarget)
                .where(ScanTarget.id == target.id)
                .values(findings=findings, counts=counts, matched_at=now)
            )
            if new:
                added: Counter[str] = Counter(f["severity"] for f in new)
                result.new_findings.update(added)
                await _record_new(session, target.digest, added, [f["id"] for f in new], now)
    log.info(
        "re-matched %d images: %d changed (%s)",
        result.images,
        result.changed,
        describe_new(result.new_findings) or "nothing new",
    )
    return result


async def _record_new(
    session: AsyncSession, digest: str, added: Counter[str], ids: list[str], now: datetime
) -> None:
    for repository, tag in await store.tags_on_digest(session, digest):
        store.record(
            session,
            "scan.new-vulnerabilities",
            now,
            actor=SCANNER_ACTOR,
            repository=repository,
            tag=tag,
            digest=digest,
            message=f"{describe_new(added)} in {repository}:{tag}",
            ids=ids[:50],
        )
