"""The vulnerability data as the pages, the status API and the metrics show it: per ecosystem
its records and age, each source's last fetch, and the verdict of a stored scan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.models import ScanTarget
from portside.reads.overview import redacted
from portside.security import exceptions
from portside.security.scanning.verdict import EcosystemData, Verdict, stored_verdict
from portside.security.sources import state
from portside.settings import Settings


@dataclass(frozen=True)
class EcosystemRow:
    ecosystem: str
    records: int
    last_success: datetime | None
    age_seconds: float | None
    stale: bool


@dataclass(frozen=True)
class SourceRow:
    url: str
    last_attempt: datetime | None
    last_success: datetime | None
    records: int
    failures: int
    last_error: str | None


@dataclass(frozen=True)
class VulnData:
    ecosystems: list[EcosystemRow]
    sources: list[SourceRow]
    stale_after_days: float


def stale_after(settings: Settings) -> timedelta:
    return timedelta(days=settings.vulndb.stale_after)


def ecosystem_rows(
    data: dict[str, EcosystemData], now: datetime, threshold: timedelta
) -> list[EcosystemRow]:
    rows = []
    for ecosystem, found in sorted(data.items()):
        age = (now - found.last_success) if found.last_success is not None else None
        rows.append(
            EcosystemRow(
                ecosystem,
                found.records,
                found.last_success,
                age.total_seconds() if age is not None else None,
                age is None or age > threshold,
            )
        )
    return rows


async def vulndata(session: AsyncSession, settings: Settings, now: datetime) -> VulnData:
    sources = await state.load_all(session)
    data = await state.data_state(session)
    return VulnData(
        ecosystems=ecosystem_rows(data, now, stale_after(settings)),
        sources=[
            SourceRow(
                url=redacted(s.url),
                last_attempt=s.last_attempt,
                last_success=s.last_success,
                records=s.records or 0,
                failures=s.failures or 0,
                last_error=redacted(s.last_error) if s.last_error else None,
            )
            for s in sources
        ],
        stale_after_days=settings.vulndb.stale_after,
    )


VerdictOf = Callable[[ScanTarget | Any], Verdict]


async def verdicts(
    session: AsyncSession, settings: Settings, now: datetime, *, namespace: str
) -> VerdictOf:
    """The verdict of any stored scan of a repository in ``namespace``, against the data
    loaded now; findings an exception in force allows there do not count
    (:mod:`portside.security.exceptions`)."""
    data = await state.data_state(session)
    threshold = stale_after(settings)
    allowances = await exceptions.active(session, now)

    def verdict_of(target: Any) -> Verdict:
        counts = target.counts
        if allowances and target.findings:
            marked, allowed = exceptions.mark(target.findings, namespace, allowances, now)
            if allowed:
                counts = exceptions.counted(marked)
        return stored_verdict(counts, target.os, target.packages, data, now, threshold)

    return verdict_of


async def allowed_findings(
    session: AsyncSession, findings: list[dict[str, Any]], namespace: str, now: datetime
) -> list[dict[str, Any]]:
    """A scan's findings with ``allowed`` set on those an exception in force covers in
    ``namespace``."""
    allowances = await exceptions.active(session, now)
    return exceptions.mark(findings, namespace, allowances, now)[0] if allowances else findings
