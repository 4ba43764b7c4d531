"""A Harbor pluggable scanner adapter as a scanner backend (adapter API v1.0 to v1.2).

``harbor_adapter.url`` is the adapter's API root: ``/api/v1`` is appended when the URL does not
end with it, so ``http://trivy-adapter:8080`` and ``http://trivy-adapter:8080/api/v1`` are the
same. For each image manifest (each platform's manifest, for an index)::

    GET  {root}/metadata          once per process: the adapter must produce a Harbor
                                   vulnerability report for the manifest's media type
    POST {root}/scan              {registry: {url, authorization}, artifact: {repository,
                                   digest, tag, mime_type}}  -> 202 {id}
    GET  {root}/scan/{id}/report  -> 302 + Refresh-After (seconds) while the scan runs,
                                   200 HarborVulnerabilityReport when done

The adapter pulls the image itself, from the registry URL Portside uses, with the
Authorization header the registry client gives for the repository. ``Authorization: Bearer
<api_key>`` is sent to the adapter when ``api_key`` is set. The conversion from a report to
Portside's findings (:func:`findings_from_report`) is a pure function.

Errors, all raised with the aiohttp error (if any) as ``__cause__``:

- connection refused or reset, a timeout, 5xx (a 500 on the report is the adapter's "the
  scan failed", which may well be transient), 429, a scan id the adapter forgot (404 on the
  report, e.g. after its restart), a report still not ready within ``timeout``:
  :class:`BackendUnavailable` (retried);
- any other 4xx (401/403: a wrong api_key), an adapter that does not produce a vulnerability
  report for the image's media type, an answer that breaks the API: :class:`BackendError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from portside import USER_AGENT
from portside.registry.client import Manifest, RegistryClient
from portside.security.advisories.severity import from_score, from_word
from portside.security.scanning.backends import BackendError, BackendUnavailable, merge_findings
from portside.security.scanning.backends.common import Answer, image_manifests, read_bounded, text
from portside.security.severity import Severity

log = logging.getLogger(__name__)

API_ROOT = "/api/v1"
METADATA_V11 = "application/vnd.scanner.adapter.metadata+json; version=1.1"
METADATA_V10 = "application/vnd.scanner.adapter.metadata+json; version=1.0"
SCAN_REQUEST_V11 = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
SCAN_REQUEST_V10 = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
SCAN_RESPONSE = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
REPORT_V11 = "application/vnd.security.vulnerability.report; version=1.1"
REPORT_V10 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
REPORT_TYPES = (REPORT_V11, REPORT_V10)  # the same HarborVulnerabilityReport, newest first
CONNECT_TIMEOUT = 10.0
MAX_METADATA_BYTES = 1024 * 1024
MAX_REPORT_BYTES = 64 * 1024 * 1024
DEFAULT_REFRESH = 2.0  # seconds, when a 302 carries no usable Refresh-After
MIN_REFRESH = 0.1
ECOSYSTEM = "harbor-adapter"  # the report names no package ecosystem
CVE_ID = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)


# -- pure helpers -------------------------------------------------------------------------
def api_root(url: str) -> str:
    """The adapter's API root: the URL as given when it ends with ``/api/v1``."""
    url = url.rstrip("/")
    return url if url.endswith(API_ROOT) else url + API_ROOT


def normalize_mime(value: str) -> str:
    """``application/x; version=1.1`` and ``Application/X;version=1.1`` compare equal."""
    return "".join(value.split()).lower()


@dataclass(frozen=True)
class AdapterMetadata:
    scanner: str
    request_type: str
    produces: dict[str, list[str]] = field(default_factory=dict)  # consumed -> report types

    def report_type(self, artifact_mime: str) -> str:
        """The report type to ask for an artifact of this media type (BackendError if none)."""
        produced = self.produces.get(normalize_mime(artifact_mime), [])
        for wanted in REPORT_TYPES:
            if normalize_mime(wanted) in produced:
                return wanted
        raise BackendError(
            f"the Harbor scanner adapter ({self.scanner}) produces no vulnerability report "
            f"({' or '.join(REPORT_TYPES)}) for {artifact_mime}"
        )


def parse_metadata(data: dict[str, Any], content_type: str = METADATA_V11) -> AdapterMetadata:
    """``ScannerAdapterMetadata``: the vulnerability capabilities (``type`` absent or
    ``vulnerability``) by consumed media type."""
    raw = data.get("scanner")
    scanner: dict[str, Any] = raw if isinstance(raw, dict) else {}
    name = " ".join(str(scanner[k]) for k in ("name", "version") if scanner.get(k)) or "unnamed"
    capabilities = data.get("capabilities")
    if not isinstance(capabilities, list):
        raise BackendError("the adapter's metadata has no capabilities list")
    produces: dict[str, list[str]] = {}
    for capability in capabilities:
        if not isinstance(capability, dict):
            continue
        if capability.get("type", "vulnerability") != "vulnerability":
            continue
        reports = [
            normalize_mime(m)
            for m in capability.get("produces_mime_types") or []
            if isinstance(m, str)
        ]
        for consumed in capability.get("consumes_mime_types") or []:
            if isinstance(consumed, str):
                produces.setdefault(normalize_mime(consumed), []).extend(reports)
    old = normalize_mime(content_type).endswith("version=1.0")
    return AdapterMetadata(name, SCAN_REQUEST_V10 if old else SCAN_REQUEST_V11, produces)


def severity(item: dict[str, Any]) -> str:
    """Harbor's Unknown, None, Negligible, Low, Medium, High, Critical as Portside's (None is
    Negligible); an Unknown with a CVSS score in ``preferred_cvss`` takes the score's band."""
    word = from_word(str(item.get("severity") or ""))
    cvss = item.get("preferred_cvss")
    if word is Severity.UNKNOWN and isinstance(cvss, dict):
        for key, version in (("score_v3", 3), ("score_v2", 2)):
            score = cvss.get(key)
            if isinstance(score, int | float) and not isinstance(score, bool):
                return str(from_score(float(score), cvss_version=version))
    return str(word)


def findings_from_report(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Portside findings from a ``HarborVulnerabilityReport``'s ``vulnerabilities``."""
    items = report.get("vulnerabilities")
    if items is None:
        return []
    if not isinstance(items, list):
        raise BackendError("the report's vulnerabilities is not a list")
    findings = []
    for item in items:
        if not isinstance(item, dict) or not text(item.get("id")):
            continue
        own_id = text(item["id"])
        links = [link for link in item.get("links") or [] if isinstance(link, str) and link]
        aliases = [m.upper() for m in CVE_ID.findall(" ".join(links))]
        description = text(item.get("description")).splitlines()
        findings.append(
            {
                "id": own_id,
                "aliases": [a for a in dict.fromkeys(aliases) if a != own_id.upper()],
                "severity": severity(item),
                "package": text(item.get("package")),
                "version": text(item.get("version")),
                "ecosystem": ECOSYSTEM,
                "fixed_version": text(item.get("fix_version")) or None,
                "summary": description[0].strip() if description else None,
                "links": list(dict.fromkeys(links)),
            }
        )
    return findings


def refresh_after(header: str | None) -> float:
    """Seconds to wait from a 302's ``Refresh-After`` (an integer by the spec)."""
    try:
        seconds = float(header) if header is not None else DEFAULT_REFRESH
    except ValueError:
        seconds = DEFAULT_REFRESH
    if seconds != seconds or seconds < 0:  # NaN or negative
        seconds = DEFAULT_REFRESH
    return max(seconds, MIN_REFRESH)


def scan_request(
    *, registry_url: str, authorization: str | None, repository: str, manifest: Manifest
) -> dict[str, Any]:
    return {
        "registry": {"url": registry_url, "authorization": authorization or ""},
        "artifact": {
            "repository": repository,
            "digest": manifest.digest,
            "tag": "",
            "mime_type": manifest.media_type,
        },
    }


def _message(body: bytes) -> str:
    """The adapter's ``{"error": {"message": ...}}``, shortened."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    error = data.get("error") if isinstance(data, dict) else None
    return text(error.get("message"))[:300] if isinstance(error, dict) else ""


# -- the I/O ------------------------------------------------------------------------------
class HarborAdapterScanner:
    """``await HarborAdapterScanner(client, url=..., timeout=300).scan(repo, digest)``"""

    name = "harbor-adapter"

    def __init__(
        self,
        client: RegistryClient,
        *,
        url: str,
        timeout: float,
        api_key: str = "",
        user_agent: str = USER_AGENT,
    ):
        self.client = client
        self.root = api_root(url)
        self.timeout = timeout
        self.api_key = api_key
        self.user_agent = user_agent
        self.metadata: AdapterMetadata | None = None  # read once, at the first scan

    async def scan(self, repository: str, digest: str) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + self.timeout
        images = await image_manifests(self.client, repository, digest)
        authorization = await self.client.auth_header(repository)
        headers = {"User-Agent": self.user_agent}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        findings: list[dict[str, Any]] = []
        async with aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=None)
        ) as session:
            metadata = await self._metadata(session, deadline)
            for image in images:
                accept = metadata.report_type(image.media_type)
                body = scan_request(
                    registry_url=self.client.base_url,
                    authorization=authorization,
                    repository=repository,
                    manifest=image,
                )
                scan_id = await self._submit(session, metadata.request_type, body, deadline)
                report = await self._report(session, scan_id, accept, deadline)
                findings.extend(findings_from_report(report))
        log.info("harbor-adapter: %s@%s: %d findings", repository, digest, len(findings))
        return merge_findings((self.name, findings))

    async def _metadata(self, session: aiohttp.ClientSession, deadline: float) -> AdapterMetadata:
        if self.metadata is None:
            url = f"{self.root}/metadata"
            answer = await self._call(
                session, "GET", url, deadline, headers={"Accept": f"{METADATA_V11}, {METADATA_V10}"}
            )
            if answer.status != 200:
                raise BackendError(f"GET {url}: {answer.status}")
            content_type = answer.headers.get("Content-Type", METADATA_V11)
            self.metadata = parse_metadata(answer.json(url), content_type)
        return self.metadata

    async def _submit(
        self,
        session: aiohttp.ClientSession,
        request_type: str,
        body: dict[str, Any],
        deadline: float,
    ) -> str:
        url = f"{self.root}/scan"
        answer = await self._call(
            session,
            "POST",
            url,
            deadline,
            headers={"Content-Type": request_type, "Accept": SCAN_RESPONSE},
            data=json.dumps(body).encode(),
        )
        if answer.status not in (200, 201, 202):
            raise BackendError(f"POST {url}: {answer.status}")
        scan_id = answer.json(url).get("id")
        if not isinstance(scan_id, str) or not scan_id:
            raise BackendError(f"POST {url}: the answer has no scan id")
        return scan_id

    async def _report(
        self, session: aiohttp.ClientSession, scan_id: str, accept: str, deadline: float
    ) -> dict[str, Any]:
        url = f"{self.root}/scan/{quote(scan_id, safe='')}/report"
        loop = asyncio.get_running_loop()
        while True:
            answer = await self._call(session, "GET", url, deadline, headers={"Accept": accept})
            if answer.status == 200:
                return answer.json(url)
            if answer.status != 302:
                raise BackendError(f"GET {url}: {answer.status}")
            wait = refresh_after(answer.headers.get("Refresh-After"))
            if loop.time() + wait >= deadline:
                raise BackendUnavailable(
                    f"the Harbor scanner adapter's report {scan_id} is not ready "
                    f"after {self.timeout:g}s"
                )
            log.debug("harbor-adapter: report %s not ready, again in %.1fs", scan_id, wait)
            await asyncio.sleep(wait)

    async def _call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        deadline: float,
        *,
        headers: dict[str, str],
        data: bytes | None = None,
    ) -> Answer:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise BackendUnavailable(f"{method} {url}: no report within {self.timeout:g}s")
        timeout = aiohttp.ClientTimeout(
            total=remaining, sock_connect=min(remaining, CONNECT_TIMEOUT)
        )
        limit = MAX_METADATA_BYTES if url.endswith("/metadata") else MAX_REPORT_BYTES
        try:
            async with session.request(
                method, url, headers=headers, data=data, timeout=timeout, allow_redirects=False
            ) as resp:
                status = resp.status
                answer_headers = resp.headers.copy()
                body = await read_bounded(resp, limit, f"{method} {url}")
        except TimeoutError as exc:
            raise BackendUnavailable(f"{method} {url}: no answer within {remaining:.1f}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise BackendUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if status == 429 or status >= 500 or (status == 404 and "/scan/" in url):
            raise BackendUnavailable(f"{method} {url}: {status} {_message(body)}".rstrip())
        if status >= 400:
            raise BackendError(f"{method} {url}: {status} {_message(body)}".rstrip())
        return Answer(status, answer_headers, body)
