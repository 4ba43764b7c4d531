"""Scanning one image on request: `portside scan REF`, and ``POST /api/v1/scans`` for it.

The report is one JSON-ready dict, the same whether the command scans by itself or asks a
running Portside: the image's digest, OS, platforms, packages, findings and severity counts,
and ``source``: ``"scanned"`` (analyzed now, with the built-in scanner and the layer cache) or
``"stored"`` (the background task's result for that digest, kept current by re-matching after
every vulnerability-data import, with the findings of every configured backend).

An on-request scan writes only the layer cache: the digest's row in the scan queue belongs to
the background task, which finds the layers already read when it gets to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from portside.db.engine import Database
from portside.db.models import ScanTarget
from portside.errors import InvalidName, RegistryNotFound
from portside.index.names import (
    check_digest,
    check_reference,
    check_repository,
    namespace_of,
    shown,
)
from portside.index.vocabulary import ScanTargetStatus
from portside.registry.client import RegistryClient
from portside.security import exceptions
from portside.security.analysis.limits import Limits
from portside.security.scanning.analyze import Analyzer
from portside.security.scanning.layercache import LayerCacheStore
from portside.security.scanning.matching import match
from portside.security.scanning.records import os_record, package_record
from portside.security.scanning.verdict import stored_verdict
from portside.security.sources import state as source_state

SCANNED, STORED = "scanned", "stored"


def parse_ref(ref: str) -> tuple[str, str]:
    """``repository:tag``, ``repository`` (``latest``) or ``repository@sha256:...`` ->
    (repository, reference), each checked against the distribution grammar
    (:mod:`portside.index.names`), so a malformed reference is refused here with
    :class:`~portside.errors.InvalidName`, with its reason, and never sent to the registry."""
    check: Callable[[str], str]
    if "@" in ref:
        repository, _, reference = ref.partition("@")
        check = check_digest
    else:
        check = check_reference
        repository, colon, reference = ref.rpartition(":")
        if not colon or "/" in reference:
            repository, reference = ref, "latest"
    try:
        check(reference)
        check_repository(repository)
    except InvalidName as exc:
        raise InvalidName(f"{shown(ref)}: {exc}") from None
    return repository, reference


async def resolve(client: RegistryClient, ref: str) -> tuple[str, str, str]:
    """(repository, reference, digest) of ``ref`` on the registry."""
    repository, reference = parse_ref(ref)
    try:
        digest = (await client.head_manifest(repository, reference)).digest
    except RegistryNotFound as exc:
        what = f"digest {reference}" if ":" in reference else f"tag {reference}"
        raise RegistryNotFound(
            f"{what} not found in {repository}", status=exc.status, url=exc.url
        ) from exc
    return repository, reference, digest


async def answer(
    db: Database,
    client: RegistryClient,
    limits: Limits,
    repository: str,
    reference: str,
    digest: str,
    *,
    reuse: bool,
    slot: AbstractAsyncContextManager[Any] | None = None,
    stale_after: timedelta = timedelta(days=7),
) -> dict[str, Any]:
    """The report of ``digest``: with ``reuse``, the stored scan when there is one; otherwise
    (or without one) an analysis now, inside ``slot`` when given (a bound on concurrent ones).
    Its ``verdict`` says whether it may claim "no known vulnerabilities" (data older than
    ``stale_after`` may not); a finding an exception covers (:mod:`portside.security.exceptions`)
    carries ``allowed`` and does not count toward it, and ``allowed`` counts them."""
    report = await stored(db, repository, reference, digest) if reuse else None
    if report is None:
        async with slot or contextlib.nullcontext():
            report = await scan_now(db, client, limits, repository, reference, digest)
    now = datetime.now(UTC)
    async with db.read() as session:
        data = await source_state.data_state(session)
        allowances = await exceptions.active(session, now)
    report["vulnerabilities"], report["allowed"] = exceptions.mark(
        report["vulnerabilities"], namespace_of(repository), allowances, now
    )
    found = stored_verdict(
        exceptions.counted(report["vulnerabilities"]),
        report["os"],
        report["packages"],
        data,
        now,
        stale_after,
    )
    report["verdict"] = {
        "label": found.label,
        "complete": found.complete,
        "summary": found.summary,
        "gaps": list(found.gaps),
    }
    return report


async def scan_now(
    db: Database,
    client: RegistryClient,
    limits: Limits,
    repository: str,
    reference: str,
    digest: str,
) -> dict[str, Any]:
    """Analyze the image now (layers the cache has are not read again) and match it."""
    analysis = await Analyzer(client, LayerCacheStore(db), limits).analyze(repository, digest)
    packages = [package_record(p) for p in analysis.packages]
    os = os_record(analysis.os)
    async with db.read() as session:
        findings, counts = await match(session, analysis.os, analysis.packages)
    return {
        "repository": repository,
        "reference": reference,
        "digest": digest,
        "source": SCANNED,
        "os": os,
        "platforms": analysis.platforms,
        "packages": packages,
        "vulnerabilities": findings,
        "severity_counts": counts,
        "notes": analysis.notes,
    }


async def stored(
    db: Database, repository: str, reference: str, digest: str
) -> dict[str, Any] | None:
    """The background task's finished scan of ``digest``, as a report; None without one."""
    async with db.read() as session:
        target = await session.scalar(
            select(ScanTarget).where(
                ScanTarget.digest == digest, ScanTarget.status == ScanTargetStatus.DONE
            )
        )
    if target is None or target.packages is None:
        return None
    return {
        "repository": repository,
        "reference": reference,
        "digest": digest,
        "source": STORED,
        "scanned_at": target.scanned_at.isoformat() if target.scanned_at else None,
        "matched_at": target.matched_at.isoformat() if target.matched_at else None,
        "os": target.os,
        "platforms": [],
        "packages": target.packages,
        "vulnerabilities": target.findings or [],
        "severity_counts": dict(target.counts or {}),
        "notes": [],
    }
