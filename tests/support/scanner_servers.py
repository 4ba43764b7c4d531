"""Stand-ins for Clair v4 and a Harbor pluggable scanner adapter, and faulty servers (test helper).

Neither Clair nor a Harbor adapter can run on this machine. These aiohttp servers follow the
published API contracts instead:

- Clair v4 (``quay/clair`` ``httptransport``, OpenAPI v1): ``POST /indexer/api/v1/index_report``
  takes a ``Manifest`` ``{hash, layers: [{hash, uri, headers}]}`` and answers 201 with an
  ``IndexReport`` ``{manifest_hash, state, success, err, ...}`` (400 ``bogus manifest`` without
  layers); ``GET /indexer/api/v1/index_report/{hash}`` (404 when unknown);
  ``GET /indexer/api/v1/index_state``; ``GET /matcher/api/v1/vulnerability_report/{hash}``
  answers a ``VulnerabilityReport`` (202 and no body while the matcher has no data, 404 for an
  unknown manifest). Errors are ``{"code": "bad-request"|"not-found"|..., "message": ...}``.
- Harbor's pluggable scanner adapter API v1.2 (``goharbor/pluggable-scanner-spec``), rooted at
  ``/api/v1``: ``GET /metadata``; ``POST /scan`` (a ``ScanRequest``) -> 202 ``{id}``;
  ``GET /scan/{id}/report`` -> 302 with ``Refresh-After`` while the scan runs, 200 with a
  ``HarborVulnerabilityReport``, 500 when the scan failed, 404 for an unknown id. Errors are
  ``{"error": {"message": ...}}``.

They really pull what Portside tells them to pull, with the credentials Portside passes on:
Clair each layer from the URI and headers it was given; the adapter the manifest (checked
against its digest) and then its config and layers from the registry URL, with the
``authorization`` it was given. Every blob's sha256 is checked. They do not analyze the layers: once
every one is read, they answer the canned vulnerabilities the test gave.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MANIFEST_TYPES = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]
REPORT_V11 = "application/vnd.security.vulnerability.report; version=1.1"
REPORT_V10 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
SCAN_REQUEST_TYPES = [
    "application/vnd.scanner.adapter.scan.request+json; version=1.1",
    "application/vnd.scanner.adapter.scan.request+json; version=1.0",
]
SEVERITIES = ["Unknown", "None", "Negligible", "Low", "Medium", "High", "Critical"]


def _mime(value: str) -> str:
    return "".join(value.split()).lower()


class PullError(Exception):
    """The scanner could not download or verify something from the registry."""


class _Server:
    """An aiohttp application on a free loopback port: ``async with Server() as s: s.url``."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._jobs: set[asyncio.Task[None]] = set()
        self._stopping: asyncio.Event | None = None
        self.session: aiohttp.ClientSession | None = None

    def routes(self) -> None:
        raise NotImplementedError

    def spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def stopping(self) -> None:
        assert self._stopping is not None
        await self._stopping.wait()

    async def __aenter__(self) -> Self:
        self._stopping = asyncio.Event()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.routes()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._stopping is not None
        self._stopping.set()
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self.session is not None:
            await self.session.close()


class Puller:
    """Downloads from a registry as a scanner does, checking each body against its digest."""

    def __init__(self, session: aiohttp.ClientSession):
        self.session = session
        self.authorizations: list[str] = []  # every Authorization sent to the registry

    async def get(
        self, url: str, digest: str, headers: CIMultiDict[str], *, accept: str | None = None
    ) -> bytes:
        sent = CIMultiDict(headers)
        if accept:
            sent["Accept"] = accept
        self.authorizations.extend(sent.getall("Authorization", []))
        async with self.session.get(url, headers=sent) as resp:
            if resp.status != 200:
                raise PullError(f"GET {url}: {resp.status}")
            body = await resp.read()
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if actual != digest:
            raise PullError(f"GET {url}: the body's digest is {actual}, not {digest}")
        return body


# -- Clair v4 -------------------------------------------------------------------------------
def _clair_error(status: int, message: str) -> web.Response:
    codes = {
        400: "bad-request",
        404: "not-found",
        405: "method-not-allowed",
        429: "too-many-requests",
    }
    return web.json_response(
        {"code": codes.get(status, "internal-error"), "message": message}, status=status
    )


class ClairServer(_Server):
    """Clair's indexer and matcher. ``report`` holds the canned parts of the vulnerability
    report (``packages``, ``distributions``, ``repository``, ``environments``,
    ``vulnerabilities``, ``package_vulnerabilities``); the index report carries its package
    parts once every layer was downloaded.

    Like Clair, the POST answers once the manifest is indexed; with ``synchronous=False`` it
    answers at once with the state reached so far and indexes in the background (the client
    then polls ``GET index_report/{hash}``). ``matcher_ready=False`` is a matcher that has no
    vulnerability data yet (202)."""

    def __init__(
        self,
        report: dict[str, Any] | None = None,
        *,
        synchronous: bool = True,
        matcher_ready: bool = True,
        index_delay: float = 0.05,
    ):
        super().__init__()
        self.report = report or {}
        self.synchronous = synchronous
        self.matcher_ready = matcher_ready
        self.index_delay = index_delay
        self.index_reports: dict[str, dict[str, Any]] = {}
        self.manifests: dict[str, dict[str, Any]] = {}  # hash -> the posted Manifest
        self.fetched: dict[str, list[str]] = {}  # hash -> layers downloaded and verified
        self.polls = 0
        self.puller: Puller | None = None

    def routes(self) -> None:
        assert self.session is not None
        self.puller = Puller(self.session)
        self.app.router.add_post("/indexer/api/v1/index_report", self._post_index)
        self.app.router.add_get("/indexer/api/v1/index_report/{digest}", self._get_index)
        self.app.router.add_get("/indexer/api/v1/index_state", self._index_state)
        self.app.router.add_get(
            "/matcher/api/v1/vulnerability_report/{digest}", self._vulnerability_report
        )

    async def _post_index(self, request: web.Request) -> web.Response:
        try:
            manifest = await request.json()
        except ValueError:
            return _clair_error(400, "failed to deserialize manifest")
        digest = manifest.get("hash") if isinstance(manifest, dict) else None
        layers = manifest.get("layers") if isinstance(manifest, dict) else None
        if not isinstance(digest, str) or not DIGEST.match(digest) or not layers:
            return _clair_error(400, "bogus manifest")
        for layer in layers:
            if not (
                isinstance(layer, dict)
                and isinstance(layer.get("hash"), str)
                and DIGEST.match(layer["hash"])
                and isinstance(layer.get("uri"), str)
                and isinstance(layer.get("headers", {}), dict)
            ):
                return _clair_error(400, "failed to deserialize manifest: bad layer")
        known = self.index_reports.get(digest)
        if known is None or known["state"] == "IndexError":
            known = {
                "manifest_hash": digest,
                "state": "CheckManifest",
                "success": False,
                "err": "",
            }
            self.index_reports[digest] = known
            self.manifests[digest] = manifest
            if self.synchronous:
                await self._index(digest, layers)
            else:
                self.spawn(self._index(digest, layers))
        location = f"/indexer/api/v1/index_report/{digest}"
        return web.json_response(
            known,
            status=201,
            headers={
                "Location": location,
                "Link": f'<{location}>; rel="https://projectquay.io/clair/v1/index_report"',
            },
        )

    async def _index(self, digest: str, layers: list[dict[str, Any]]) -> None:
        assert self.puller is not None
        report = self.index_reports[digest]
        report["state"] = "FetchLayers"
        fetched = self.fetched.setdefault(digest, [])
        try:
            for layer in layers:
                headers: CIMultiDict[str] = CIMultiDict()
                for name, values in (layer.get("headers") or {}).items():
                    for value in values:
                        headers.add(name, value)
                await self.puller.get(layer["uri"], layer["hash"], headers)
                fetched.append(layer["hash"])
            report["state"] = "ScanLayers"
            await asyncio.sleep(self.index_delay)
        except (PullError, aiohttp.ClientError, OSError) as exc:
            report.update(state="IndexError", success=False, err=f"fetching layers: {exc}")
            return
        report.update(
            state="IndexFinished",
            success=True,
            **{
                key: self.report.get(key, {})
                for key in ("packages", "distributions", "repository", "environments")
            },
        )

    async def _get_index(self, request: web.Request) -> web.Response:
        self.polls += 1
        digest = request.match_info["digest"]
        if not DIGEST.match(digest):
            return _clair_error(400, "malformed path")
        report = self.index_reports.get(digest)
        if report is None:
            return _clair_error(404, "index report not found")
        return web.json_response(report)

    async def _index_state(self, request: web.Request) -> web.Response:
        state = hashlib.sha256(json.dumps(self.report, sort_keys=True).encode()).hexdigest()
        return web.json_response({"state": state}, headers={"Etag": f'"{state}"'})

    async def _vulnerability_report(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        if not DIGEST.match(digest):
            return _clair_error(400, "malformed path")
        if not self.matcher_ready:
            return web.Response(status=202)
        index = self.index_reports.get(digest)
        if index is None:
            return _clair_error(404, f'index report for manifest "{digest}" not found')
        finished = index["state"] == "IndexFinished"
        keys = ("packages", "distributions", "repository", "environments", "vulnerabilities")
        body = {key: self.report.get(key, {}) if finished else {} for key in keys}
        body["package_vulnerabilities"] = (
            self.report.get("package_vulnerabilities", {}) if finished else {}
        )
        body["manifest_hash"] = digest
        body["enrichments"] = {}
        return web.json_response(body)


# -- Harbor pluggable scanner adapter ---------------------------------------------------------
def _harbor_error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message}},
        status=status,
        content_type="application/vnd.scanner.adapter.error+json",
    )


class HarborAdapterServer(_Server):
    """A Harbor scanner adapter (API v1.2 at ``/api/v1``) answering ``vulnerabilities``.

    The first ``pending_polls`` report requests of each scan answer 302 (as do all until the
    image is pulled); ``never_finish`` keeps answering 302; ``produces`` overrides the
    report types the metadata advertises; ``api_key`` makes it require ``Bearer <api_key>``.
    """

    def __init__(
        self,
        vulnerabilities: list[dict[str, Any]] | None = None,
        *,
        api_key: str = "",
        refresh_after: int = 1,
        pending_polls: int = 1,
        never_finish: bool = False,
        produces: list[str] | None = None,
    ):
        super().__init__()
        self.vulnerabilities = vulnerabilities or []
        self.api_key = api_key
        self.refresh_after = refresh_after
        self.pending_polls = pending_polls
        self.never_finish = never_finish
        self.produces = produces if produces is not None else [REPORT_V10, REPORT_V11]
        self.scanner = {"name": "Trivy", "vendor": "Aqua Security", "version": "0.50.1"}
        self.requests: list[dict[str, Any]] = []  # the accepted ScanRequests
        self.request_types: list[str] = []
        self.scans: dict[str, dict[str, Any]] = {}  # id -> {request, done, error}
        self.fetched: dict[str, list[str]] = {}  # artifact digest -> blobs downloaded
        self.metadata_reads = 0
        self.polls = 0
        self.redirects = 0  # 302s answered
        self.puller: Puller | None = None

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def routes(self) -> None:
        assert self.session is not None
        self.puller = Puller(self.session)
        self.app.middlewares.append(self._auth)
        self.app.router.add_get("/api/v1/metadata", self._metadata)
        self.app.router.add_post("/api/v1/scan", self._scan)
        self.app.router.add_get("/api/v1/scan/{id}/report", self._report)

    @web.middleware
    async def _auth(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _harbor_error(401, "unauthorized")
        return await handler(request)

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_reads += 1
        body = {
            "scanner": self.scanner,
            "capabilities": [
                {
                    "type": "vulnerability",
                    "consumes_mime_types": MANIFEST_TYPES,
                    "produces_mime_types": self.produces,
                },
                {
                    "type": "sbom",
                    "consumes_mime_types": MANIFEST_TYPES,
                    "produces_mime_types": [
                        "application/vnd.security.sbom.report+json; version=1.0"
                    ],
                },
            ],
            "properties": {
                "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
                "harbor.scanner-adapter/vulnerability-database-updated-at": "2026-01-01T00:00:00Z",
            },
        }
        return web.Response(
            text=json.dumps(body),
            headers={"Content-Type": "application/vnd.scanner.adapter.metadata+json; version=1.1"},
        )

    async def _scan(self, request: web.Request) -> web.Response:
        content_type = request.headers.get("Content-Type", "")
        if _mime(content_type) not in {_mime(t) for t in SCAN_REQUEST_TYPES}:
            return _harbor_error(400, f"unsupported content type {content_type!r}")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _harbor_error(400, "Received invalid JSON")
        registry = body.get("registry") if isinstance(body, dict) else None
        artifact = body.get("artifact") if isinstance(body, dict) else None
        if not isinstance(registry, dict) or not isinstance(artifact, dict):
            return _harbor_error(400, "registry and artifact are required")
        if not str(registry.get("url", "")).startswith(("http://", "https://")):
            return _harbor_error(422, "invalid registry.url")
        if not artifact.get("repository") or not DIGEST.match(str(artifact.get("digest"))):
            return _harbor_error(422, "invalid artifact.repository or artifact.digest")
        if artifact.get("mime_type") not in MANIFEST_TYPES:
            return _harbor_error(
                422, f"unsupported artifact.mime_type {artifact.get('mime_type')!r}"
            )
        self.requests.append(body)
        self.request_types.append(content_type)
        scan_id = str(uuid.uuid4())
        self.scans[scan_id] = {"request": body, "done": False, "error": None, "polls": 0}
        self.spawn(self._pull(scan_id, registry, artifact))
        return web.json_response(
            {"id": scan_id},
            status=202,
            content_type="application/vnd.scanner.adapter.scan.response+json",
        )

    async def _pull(self, scan_id: str, registry: dict[str, Any], artifact: dict[str, Any]) -> None:
        assert self.puller is not None
        scan = self.scans[scan_id]
        base = f"{str(registry['url']).rstrip('/')}/v2/{artifact['repository']}"
        headers: CIMultiDict[str] = CIMultiDict()
        if registry.get("authorization"):
            headers["Authorization"] = registry["authorization"]
        digest = artifact["digest"]
        fetched = self.fetched.setdefault(digest, [])
        try:
            raw = await self.puller.get(
                f"{base}/manifests/{digest}", digest, headers, accept=artifact["mime_type"]
            )
            manifest = json.loads(raw)
            blobs = [manifest["config"], *manifest["layers"]]
            for blob in blobs:
                await self.puller.get(f"{base}/blobs/{blob['digest']}", blob["digest"], headers)
                fetched.append(blob["digest"])
        except (PullError, aiohttp.ClientError, OSError, ValueError, KeyError) as exc:
            scan["error"] = f"pulling {artifact['repository']}@{digest}: {exc}"
        scan["done"] = True

    async def _report(self, request: web.Request) -> web.Response:
        self.polls += 1
        scan = self.scans.get(request.match_info["id"])
        if scan is None:
            return _harbor_error(404, "Cannot find the corresponding scan request identifier")
        accept = request.headers.get("Accept", "")
        if _mime(accept) not in {_mime(t) for t in self.produces}:
            return _harbor_error(400, f"unsupported report type {accept!r}")
        scan["polls"] += 1
        if self.never_finish or not scan["done"] or scan["polls"] <= self.pending_polls:
            self.redirects += 1
            return web.Response(status=302, headers={"Refresh-After": str(self.refresh_after)})
        if scan["error"]:
            return _harbor_error(500, scan["error"])
        worst = max(
            (v.get("severity", "Unknown") for v in self.vulnerabilities),
            key=lambda s: SEVERITIES.index(s) if s in SEVERITIES else 0,
            default="Unknown",
        )
        body = {
            "generated_at": datetime.now(UTC).isoformat(),
            "artifact": scan["request"]["artifact"],
            "scanner": self.scanner,
            "severity": worst,
            "vulnerabilities": self.vulnerabilities,
        }
        return web.Response(text=json.dumps(body), headers={"Content-Type": accept})


# -- faults -------------------------------------------------------------------------------------
class FaultServer(_Server):
    """Answers every request with ``status`` and ``body`` (default: a Clair-shaped internal
    error), or, with ``hang``, never answers (until the server stops)."""

    def __init__(self, status: int = 500, *, body: Any = None, hang: bool = False):
        super().__init__()
        self.status = status
        self.body = body if body is not None else {"code": "internal-error", "message": "boom"}
        self.hang = hang
        self.requests: list[str] = []

    def routes(self) -> None:
        self.app.router.add_route("*", "/{tail:.*}", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        self.requests.append(f"{request.method} {request.path}")
        if self.hang:
            await self.stopping()
        return web.json_response(self.body, status=self.status)
