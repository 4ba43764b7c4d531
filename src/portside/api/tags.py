"""Tags: one tag, its vulnerabilities, and rescans (admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from fastapi import APIRouter, Response, status

from portside.api.deps import ReadSession, RowId, ServicesDep
from portside.api.errors import NotFound
from portside.api.schemas import (
    Accepted,
    DeletedPublic,
    Finding,
    RescanRequest,
    ScanVerdict,
    TagPublic,
    TagVulnerabilities,
)
from portside.db.models import Tag
from portside.deletion import DeletionRefused, delete_repository, delete_tag
from portside.index.names import check_digest, namespace_of
from portside.index.vocabulary import TagScanState
from portside.reads import tags as reads
from portside.reads import vulndata
from portside.registry.client import RegistryClient
from portside.security.scanning import queue as scan_queue
from portside.security.scanning import sbom
from portside.security.severity import ORDER
from portside.services import Services
from portside.web.access import Admin, PrincipalDep, Reader

router = APIRouter(prefix="/api/v1", tags=["tags"])


class Severity(StrEnum):
    Critical = "Critical"
    High = "High"
    Medium = "Medium"
    Low = "Low"
    Negligible = "Negligible"
    Unknown = "Unknown"


def tag_public(tag: Tag, counts: dict[str, int]) -> TagPublic:
    public = TagPublic.model_validate(tag)
    public.severity_counts = counts
    return public


@router.get("/tags/{tag_id}", response_model=TagPublic, dependencies=Reader)
async def get_tag(tag_id: RowId, session: ReadSession, principal: PrincipalDep) -> TagPublic:
    found = await reads.tag(session, tag_id, principal=principal)
    if found is None:
        raise NotFound(f"no tag with id {tag_id}")
    return tag_public(found.tag, found.counts)


@router.get(
    "/tags/{tag_id}/vulnerabilities", response_model=TagVulnerabilities, dependencies=Reader
)
async def tag_vulnerabilities(
    tag_id: RowId,
    session: ReadSession,
    services: ServicesDep,
    principal: PrincipalDep,
    severity: Severity | None = None,
) -> TagVulnerabilities:
    """The tag's findings, worst first; ``severity`` keeps one level."""
    found = await reads.tag(session, tag_id, principal=principal)
    if found is None:
        raise NotFound(f"no tag with id {tag_id}")
    tag, repository, target = found.tag, found.repository.name, found.target
    now = datetime.now(UTC)
    raw = list(target.findings or []) if target else []
    raw = await vulndata.allowed_findings(session, raw, namespace_of(repository), now)
    findings = [Finding.model_validate(f) for f in raw]
    if severity is not None:
        findings = [f for f in findings if f.severity == severity.value]
    findings.sort(key=lambda f: (ORDER.index(f.severity) if f.severity in ORDER else 99, f.id))
    verdict = None
    if target is not None and tag.scan_state == TagScanState.DONE:
        verdict_of = await vulndata.verdicts(
            session, services.settings, now, namespace=namespace_of(repository)
        )
        found_verdict = verdict_of(target)
        verdict = ScanVerdict(
            label=found_verdict.label,
            complete=found_verdict.complete,
            summary=found_verdict.summary,
            gaps=list(found_verdict.gaps),
        )
    return TagVulnerabilities(
        verdict=verdict,
        tag_id=tag.id,
        repository=repository,
        tag=tag.name,
        digest=tag.digest,
        scan_state=tag.scan_state,
        scanned_at=target.scanned_at if target else None,
        error=target.error if target else None,
        severity_counts=dict(target.counts or {}) if target else {},
        allowed=sum(1 for f in raw if f.get("allowed")),
        vulnerabilities=findings,
    )


@router.post("/rescan", response_model=Accepted, status_code=status.HTTP_202_ACCEPTED)
async def rescan(body: RescanRequest, services: ServicesDep, _: Admin) -> Accepted:
    """Scan one tag's digest again, or every digest (needs an admin token)."""
    async with services.db.write() as session:
        digests = None
        if body.tag_id is not None:
            digest = await reads.tag_digest(session, body.tag_id)
            if digest is None:
                raise NotFound(f"no tag with id {body.tag_id}")
            digests = [digest]
        queued = await scan_queue.request_rescan(session, digests, datetime.now(UTC))
    return Accepted(queued=queued)


@router.get(
    "/manifests/{digest}/sbom",
    dependencies=Reader,
    responses={200: {"content": {"application/vnd.cyclonedx+json": {}}}},
)
async def manifest_sbom(digest: str, session: ReadSession, principal: PrincipalDep) -> Response:
    """The image's packages and findings as a CycloneDX 1.6 JSON BOM (an invalid digest is
    refused with 422), named by a repository the caller may see with a tag on it (none: not
    found)."""
    check_digest(digest)
    found = await reads.scan_of(session, digest, principal=principal)
    packages = found.target.packages if found is not None else None
    if found is None or packages is None:
        raise NotFound(f"no scan of {digest} yet")
    body = sbom.render(f"{found.repository}@{digest}", packages, found.target.findings or [])
    return Response(
        body,
        media_type="application/vnd.cyclonedx+json",
        headers={
            "Content-Disposition": f'attachment; filename="{digest.replace(":", "-")}.cdx.json"'
        },
    )


def _registry(services: Services) -> RegistryClient:
    if services.registry is None:
        raise DeletionRefused("registry.url is not set: Portside cannot delete from the registry")
    return services.registry


@router.delete("/tags/{tag_id}", response_model=DeletedPublic, dependencies=Reader)
async def delete_tag_route(
    tag_id: RowId, services: ServicesDep, _: Admin, with_siblings: bool = False
) -> DeletedPublic:
    """Delete a tag's manifest in the registry, then the tag (needs an admin token). Refused
    with 409, naming them, when other tags share its digest, unless ``with_siblings``."""
    async with services.db.read() as session:
        row = await reads.tag_names(session, tag_id)
    if row is None:
        raise NotFound(f"no tag with id {tag_id}")
    deleted = await delete_tag(
        services.db, _registry(services), row[0], row[1], with_siblings=with_siblings, actor="api"
    )
    return DeletedPublic(**vars(deleted))


@router.delete("/repositories/{repository_id}", response_model=DeletedPublic, dependencies=Reader)
async def delete_repository_route(
    repository_id: RowId, services: ServicesDep, _: Admin
) -> DeletedPublic:
    """Delete every manifest of a repository in the registry, then the repository."""
    async with services.db.read() as session:
        name = await reads.repository_name(session, repository_id)
    if name is None:
        raise NotFound(f"no repository with id {repository_id}")
    deleted = await delete_repository(services.db, _registry(services), name, actor="api")
    return DeletedPublic(**vars(deleted))
