"""The security hub: vulnerabilities across the index, by advisory id or any alias (a CVE
id), package, severity, fix, namespace and repository, as JSON or streamed CSV. Every read is
the principal's: only tags in namespaces it may read count (:mod:`portside.reads.vulnerabilities`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from portside.accounts.policy import Principal
from portside.api.deps import ReadSession, ServicesDep
from portside.api.errors import NotFound
from portside.api.schemas import Allowed
from portside.index.names import NAMESPACE_NAME, REPOSITORY_NAME
from portside.reads import vulnerabilities as hub
from portside.services import Services
from portside.web.access import PrincipalDep, Reader

router = APIRouter(prefix="/api/v1", tags=["vulnerabilities"])

# An advisory id or alias: GHSA-jfh8-c2jp-5v3q, CVE-2021-44228, RHSA-2023:5455, PYSEC-2023-74.
ADVISORY_ID = r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,254}$"
# A package name of any ecosystem: libc6, g++, @types/node, org.apache.logging.log4j:log4j-core.
PACKAGE_NAME = r"^[A-Za-z0-9@_][A-Za-z0-9@/._:+~-]{0,511}$"
MAX_PAGE = 100_000
CSV_PAGE = 500


class MinSeverity(StrEnum):
    Critical = "Critical"
    High = "High"
    Medium = "Medium"
    Low = "Low"
    Negligible = "Negligible"
    Unknown = "Unknown"


class Order(StrEnum):
    images = "images"
    severity = "severity"


class VulnerabilityPublic(BaseModel):
    id: str
    aliases: list[str]
    severity: str
    summary: str | None
    fix_available: bool
    images: int = Field(description="Distinct digests it affects (each counted once)")
    tags: int = Field(description="Distinct tags on those digests")
    allowed_tags: int = Field(
        default=0, description="Of those tags, those where an exception in force allows it"
    )


class VulnerabilityPage(BaseModel):
    items: list[VulnerabilityPublic]
    total: int = Field(description="Distinct vulnerabilities matching the filters")
    page: int
    per_page: int


class AffectedTag(BaseModel):
    repository: str
    tag: str
    tag_id: int
    digest: str
    advisory_id: str
    package: str
    version: str
    fixed_version: str | None
    severity: str
    allowed: Allowed | None = Field(
        default=None, description="The exception allowing it here (who, why, until when)"
    )


class VulnerabilityDetail(BaseModel):
    query: str = Field(description="The id or alias asked for")
    advisories: list[VulnerabilityPublic] = Field(
        description="The advisories known by that name (a CVE id may name several)"
    )
    affected: list[AffectedTag]
    total: int = Field(description="Affected (tag, package) pairs in all pages")
    page: int
    per_page: int


async def hub_filter(
    q: Annotated[
        str | None,
        Query(max_length=255, pattern=ADVISORY_ID, description="An advisory id or any alias"),
    ] = None,
    package: Annotated[
        str | None, Query(max_length=512, pattern=PACKAGE_NAME, description="A package name")
    ] = None,
    severity: Annotated[MinSeverity | None, Query(description="This severity or worse")] = None,
    fixable: Annotated[
        bool | None, Query(description="Only findings with (true) or without (false) a fix")
    ] = None,
    namespace: Annotated[
        str | None,
        Query(max_length=255, pattern=f"^{NAMESPACE_NAME.pattern}$", description="A namespace"),
    ] = None,
    repository: Annotated[
        str | None,
        Query(max_length=255, pattern=f"^{REPOSITORY_NAME.pattern}$", description="A repository"),
    ] = None,
    hide_allowed: Annotated[
        bool, Query(description="Leave out what an exception in force allows")
    ] = False,
) -> hub.HubFilter:
    return hub.HubFilter(
        q=q,
        package=package,
        severity=severity.value if severity is not None else None,
        fixable=fixable,
        namespace=namespace,
        repository=repository,
        hide_allowed=hide_allowed,
    )


FilterDep = Annotated[hub.HubFilter, Depends(hub_filter)]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1")]
Name = Annotated[str, Path(max_length=255, pattern=ADVISORY_ID, description="An id or alias")]


def public(row: hub.VulnerabilityRow) -> VulnerabilityPublic:
    return VulnerabilityPublic(**vars(row))


@router.get("/vulnerabilities", response_model=VulnerabilityPage, dependencies=Reader)
async def list_vulnerabilities(
    session: ReadSession,
    principal: PrincipalDep,
    where: FilterDep,
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
    order: Order = Order.images,
) -> VulnerabilityPage:
    """Vulnerabilities in the tagged images the caller may read, each once: the most
    widespread first (``order=severity``: the worst first)."""
    found = await hub.vulnerabilities(
        session, principal, where, page=page, per_page=per_page, order=order.value
    )
    return VulnerabilityPage(
        items=[public(r) for r in found.rows], total=found.total, page=page, per_page=per_page
    )


# The CSV routes come before /vulnerabilities/{name}: "X.csv" is not an id.
@router.get("/vulnerabilities.csv", dependencies=Reader, response_class=StreamingResponse)
async def vulnerabilities_csv(
    services: ServicesDep, principal: PrincipalDep, where: FilterDep
) -> StreamingResponse:
    """The list as CSV, every page, streamed (one line per vulnerability)."""
    return _csv(_list_lines(services, principal, where), "vulnerabilities.csv")


@router.get("/vulnerabilities/{name}.csv", dependencies=Reader, response_class=StreamingResponse)
async def vulnerability_csv(
    name: Name, services: ServicesDep, principal: PrincipalDep, where: FilterDep
) -> StreamingResponse:
    """Every tag the vulnerability affects, as CSV, streamed (one line per tag and package)."""
    narrowed = hub.for_name(name, where)
    return _csv(_affected_lines(services, principal, narrowed), f"{name}.csv")


@router.get("/vulnerabilities/{name}", response_model=VulnerabilityDetail, dependencies=Reader)
async def get_vulnerability(
    name: Name,
    session: ReadSession,
    principal: PrincipalDep,
    where: FilterDep,
    page: Page = 1,
    per_page: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> VulnerabilityDetail:
    """Every tag an advisory (by id, or by any alias such as a CVE id) affects, with the
    package, its installed version and the fixed version."""
    found = await hub.vulnerability(session, principal, name, where, page=page, per_page=per_page)
    if found is None:
        raise NotFound(f"no finding of {name} in the images you may read")
    return VulnerabilityDetail(
        query=found.query,
        advisories=[public(r) for r in found.advisories],
        affected=[AffectedTag(**vars(a)) for a in found.affected],
        total=found.total,
        page=page,
        per_page=per_page,
    )


def cell(value: object) -> str:
    """A CSV cell, never read as a formula by a spreadsheet (registry and advisory data are
    untrusted: ``=HYPERLINK(...)`` as a package name stays text)."""
    text = "" if value is None else str(value)
    if isinstance(value, bool):
        text = "yes" if value else "no"
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_line(values: Iterable[object]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell(v) for v in values])
    return out.getvalue()


LIST_HEADER = [
    "id",
    "aliases",
    "severity",
    "fix_available",
    "images",
    "tags",
    "summary",
    "allowed_tags",
]
AFFECTED_HEADER = [
    "repository",
    "tag",
    "digest",
    "advisory_id",
    "package",
    "version",
    "fixed_version",
    "severity",
    "allowed_by",
    "allowed_until",
    "allowed_reason",
]


async def _list_lines(
    services: Services, principal: Principal, where: hub.HubFilter
) -> AsyncIterator[str]:
    yield csv_line(LIST_HEADER)
    page = 1
    while True:
        async with services.db.read() as session:
            found = await hub.vulnerabilities(
                session, principal, where, page=page, per_page=CSV_PAGE
            )
        for r in found.rows:
            aliases = " ".join(r.aliases)
            fix, summary = r.fix_available, r.summary
            yield csv_line(
                (r.id, aliases, r.severity, fix, r.images, r.tags, summary, r.allowed_tags)
            )
        if len(found.rows) < CSV_PAGE:
            return
        page += 1


async def _affected_lines(
    services: Services, principal: Principal, where: hub.HubFilter
) -> AsyncIterator[str]:
    yield csv_line(AFFECTED_HEADER)
    async with services.db.read() as session:
        async for a in hub.affected_stream(session, principal, where):
            yield csv_line(
                [
                    a.repository,
                    a.tag,
                    a.digest,
                    a.advisory_id,
                    a.package,
                    a.version,
                    a.fixed_version,
                    a.severity,
                    *(
                        (a.allowed["by"], a.allowed["until"], a.allowed["reason"])
                        if a.allowed
                        else ("", "", "")
                    ),
                ]
            )


def _csv(lines: AsyncIterator[str], filename: str) -> StreamingResponse:
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
