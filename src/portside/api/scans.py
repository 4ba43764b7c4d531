"""``POST /api/v1/scans``: scan one image now, or answer with its stored scan (admin).

What `portside scan REF --server URL` asks. The analysis runs in this process with its layer
cache and vulnerability data, at most ``api.scan_slots`` at a time.
"""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from portside.api.deps import ServicesDep
from portside.api.errors import InvalidRequest, NotConfigured, NotFound
from portside.api.schemas import ScanReport, ScanRequest
from portside.errors import InvalidName, RegistryNotFound, RegistryRejected
from portside.security.scanning import oneshot
from portside.security.scanning.analyze import limits_of
from portside.web.access import Admin

router = APIRouter(prefix="/api/v1", tags=["scans"])


@router.post(
    "/scans",
    response_model=None,
    responses={200: {"model": ScanReport, "description": "The image's scan report."}},
)
async def scan(body: ScanRequest, services: ServicesDep, _: Admin) -> JSONResponse:
    """Scan one image of the registry now and return its packages and findings, or, with
    ``reuse`` (the default), the background scanner's stored result for its digest (needs an
    admin token). Only the layer cache is written: the scan queue is left to the background
    task."""
    client = services.registry
    if client is None:
        raise NotConfigured("registry.url is not set: this Portside cannot read images")
    try:
        repository, reference, digest = await oneshot.resolve(client, body.reference)
    except InvalidName as exc:  # the reference itself
        raise InvalidRequest(str(exc)) from exc
    except RegistryNotFound as exc:
        raise NotFound(str(exc)) from exc  # "tag nope not found in ns/app"
    except RegistryRejected as exc:  # a 4xx other than 401/403/404: the reference is refused
        raise InvalidRequest(f"{body.reference}: the registry refused it: {exc}") from exc
    started = time.perf_counter()
    report = await oneshot.answer(
        services.db,
        client,
        limits_of(services.settings.background.scan),
        repository,
        reference,
        digest,
        reuse=body.reuse,
        slot=services.scan_slots,
        stale_after=timedelta(days=services.settings.vulndb.stale_after),
    )
    services.metrics.scan_request(report["source"], time.perf_counter() - started)
    return JSONResponse(report)
