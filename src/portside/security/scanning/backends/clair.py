"""Clair v4 as a scanner backend, through its published HTTP API (indexer + matcher, v1).

For each image manifest (each platform's manifest, for an index)::

    POST {url}/indexer/api/v1/index_report            {hash, layers: [{hash, uri, headers}]}
        -> 201 IndexReport {manifest_hash, state, success, err}
    GET  {url}/indexer/api/v1/index_report/{hash}      until state is IndexFinished
    GET  {url}/matcher/api/v1/vulnerability_report/{hash}
        -> VulnerabilityReport {packages, distributions, repository, environments,
                                vulnerabilities, package_vulnerabilities}

Clair pulls the layers itself, from the registry URL Portside uses, with the Authorization
header the registry client gives for the repository. The conversion from a vulnerability
report to Portside's findings (:func:`findings_from_report`) is a pure function.

Errors, all raised with the aiohttp error (if any) as ``__cause__``:

- connection refused or reset, a timeout, 5xx, 429, the matcher still without vulnerability
  data (202), indexing not finished within ``timeout``: :class:`BackendUnavailable` (retried);
- any other 4xx, the state ``IndexError``, an answer that breaks the API (not JSON, too big):
  :class:`BackendError` (the scan fails).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, quote

import aiohttp

from portside import USER_AGENT
from portside.registry import paths
from portside.registry.client import RegistryClient
from portside.security.advisories.ecosystems import os_ecosystem, package_ecosystem
from portside.security.advisories.severity import from_word
from portside.security.packages import OsRelease
from portside.security.scanning.backends import BackendError, BackendUnavailable, merge_findings
from portside.security.scanning.backends.common import Answer, image_manifests, read_bounded, text

log = logging.getLogger(__name__)

INDEXER = "/indexer/api/v1"
MATCHER = "/matcher/api/v1"
INDEX_FINISHED = "IndexFinished"
INDEX_ERROR = "IndexError"
CONNECT_TIMEOUT = 10.0
MAX_REPORT_BYTES = 64 * 1024 * 1024
FALLBACK_ECOSYSTEM = "clair"

# Advisory ids worth keeping as aliases when a name or a link mentions them.
ADVISORY_ID = re.compile(
    r"\b(?:CVE-\d{4}-\d{4,}"
    r"|GHSA(?:-[0-9a-z]{4}){3}"
    r"|(?:DSA|DLA|USN)-\d+-\d+"
    r"|(?:RHSA|RHBA|RHEA|ALSA|RLSA|ELSA)-\d{4}:\d+"
    r"|(?:ALAS\d*|PYSEC|GO|RUSTSEC|OSV)-\d{4}-\d+)\b"
)


# -- the conversion (pure) ------------------------------------------------------------------
def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def finding_id(vulnerability: dict[str, Any]) -> str:
    """The vulnerability's ``name``; a name such as ``RHSA-2023:5455: glibc security update``
    gives its leading advisory id."""
    name = text(vulnerability.get("name")) or text(vulnerability.get("id"))
    first = name.split(maxsplit=1)[0].rstrip(":") if name else ""
    if first != name and ADVISORY_ID.fullmatch(first):
        return first
    return name


def links_of(vulnerability: dict[str, Any]) -> list[str]:
    """Clair's ``links``: one space-separated string."""
    return list(dict.fromkeys(text(vulnerability.get("links")).split()))


def aliases_of(vulnerability: dict[str, Any], own_id: str) -> list[str]:
    """Other advisory ids the name and the links mention (a DSA's CVE, a CVE's GHSA...)."""
    found = ADVISORY_ID.findall(
        " ".join([text(vulnerability.get("name")), *links_of(vulnerability)])
    )
    return [alias for alias in dict.fromkeys(found) if alias != own_id]


def fixed_version(value: object) -> str | None:
    """``fixed_in_version``, None when empty; some updaters write a range,
    ``fixed=1.2&introduced=1.0``, of which the ``fixed`` part is the fixed version."""
    raw = text(value)
    if "=" in raw:  # a range, URL-encoded: no version has an "="
        fixed = parse_qs(raw).get("fixed")
        return fixed[0] if fixed else None
    return raw or None


def severity(vulnerability: dict[str, Any]) -> str:
    """``normalized_severity`` (Unknown, Negligible, Low, Medium, High, Critical) as Portside's."""
    return str(from_word(text(vulnerability.get("normalized_severity"))))


def summary(description: object) -> str | None:
    lines = text(description).splitlines()
    return lines[0].strip() if lines else None


def _distribution_ecosystem(distribution: dict[str, Any]) -> str | None:
    os_id = text(distribution.get("did"))
    if not os_id:
        return None
    release = OsRelease(
        id=os_id,
        version_id=text(distribution.get("version_id")) or None,
        version_codename=text(distribution.get("version_code_name")) or None,
        pretty_name=text(distribution.get("pretty_name")) or None,
    )
    return os_ecosystem(release) or os_id


def ecosystem(report: dict[str, Any], package_id: str, vulnerability: dict[str, Any]) -> str:
    """The OSV ecosystem of the package: from its distribution (``Debian:12``), else its
    repository (``pypi`` -> ``PyPI``), else the vulnerability's own, else ``clair``."""
    distributions = _dict(report.get("distributions"))
    repositories = _dict(report.get("repository"))
    environments = _dict(report.get("environments")).get(package_id)
    for environment in environments if isinstance(environments, list) else []:
        environment = _dict(environment)
        distribution = _dict(distributions.get(text(environment.get("distribution_id"))))
        found = _distribution_ecosystem(distribution)
        if found:
            return found
        for repository_id in environment.get("repository_ids") or []:
            name = text(_dict(repositories.get(str(repository_id))).get("name"))
            if name:
                return package_ecosystem(name) or name
    own = _dict(vulnerability.get("distribution") or vulnerability.get("dist"))
    found = _distribution_ecosystem(own)
    if found:
        return found
    name = text(_dict(vulnerability.get("repository") or vulnerability.get("repo")).get("name"))
    if name and package_ecosystem(name):
        return package_ecosystem(name) or name
    return FALLBACK_ECOSYSTEM


def findings_from_report(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Portside findings from a Clair ``VulnerabilityReport``: one per (package, vulnerability)
    in ``package_vulnerabilities``; the package and version are the installed package's
    (``packages``), falling back to the vulnerability's own ``package``."""
    packages = _dict(report.get("packages"))
    vulnerabilities = _dict(report.get("vulnerabilities"))
    findings: list[dict[str, Any]] = []
    for package_id, ids in _dict(report.get("package_vulnerabilities")).items():
        for vulnerability_id in ids if isinstance(ids, list) else []:
            vulnerability = _dict(vulnerabilities.get(str(vulnerability_id)))
            own_id = finding_id(vulnerability)
            if not own_id:
                continue
            package = _dict(packages.get(package_id)) or _dict(vulnerability.get("package"))
            findings.append(
                {
                    "id": own_id,
                    "aliases": aliases_of(vulnerability, own_id),
                    "severity": severity(vulnerability),
                    "package": text(package.get("name")),
                    "version": text(package.get("version")),
                    "ecosystem": ecosystem(report, package_id, vulnerability),
                    "fixed_version": fixed_version(vulnerability.get("fixed_in_version")),
                    "summary": summary(vulnerability.get("description")),
                    "links": links_of(vulnerability),
                }
            )
    return findings


def index_request(
    manifest_digest: str,
    layer_digests: Iterable[str],
    *,
    registry_url: str,
    repository: str,
    authorization: str | None,
) -> dict[str, Any]:
    """The body of ``POST /indexer/api/v1/index_report`` (Clair's ``Manifest``). Its layer
    URIs are built from validated names only (:class:`InvalidName` otherwise)."""
    headers = {"Authorization": [authorization]} if authorization else {}
    return {
        "hash": manifest_digest,
        "layers": [
            {
                "hash": digest,
                "uri": registry_url + paths.blob(repository, digest),
                "headers": headers,
            }
            for digest in layer_digests
        ],
    }


def layer_digests(manifest: dict[str, Any]) -> list[str]:
    """The layers the registry holds (foreign, non-distributable layers are left out)."""
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise BackendError("the image manifest has no layers list")
    digests = []
    for layer in layers:
        layer = _dict(layer)
        media_type = text(layer.get("mediaType"))
        if "foreign" in media_type or "nondistributable" in media_type:
            continue
        digest = text(layer.get("digest"))
        if not digest:
            raise BackendError("a layer descriptor without a digest")
        digests.append(digest)
    return digests


# -- the I/O ------------------------------------------------------------------------------
def _message(body: bytes) -> str:
    """Clair's error body ``{"code": ..., "message": ...}``, shortened."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(data, dict):
        return ": ".join(text(data.get(k)) for k in ("code", "message") if data.get(k))[:300]
    return ""


class ClairScanner:
    """``await ClairScanner(client, url="http://clair:6060", timeout=300).scan(repo, digest)``"""

    name = "clair"

    def __init__(
        self,
        client: RegistryClient,
        *,
        url: str,
        timeout: float,
        poll_interval: float = 0.25,
        max_poll_interval: float = 5.0,
        user_agent: str = USER_AGENT,
    ):
        self.client = client
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.user_agent = user_agent

    async def scan(self, repository: str, digest: str) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + self.timeout
        images = await image_manifests(self.client, repository, digest)
        authorization = await self.client.auth_header(repository)
        findings: list[dict[str, Any]] = []
        async with aiohttp.ClientSession(
            headers={"User-Agent": self.user_agent}, timeout=aiohttp.ClientTimeout(total=None)
        ) as session:
            for image in images:
                layers = layer_digests(image.json())
                if not layers:
                    continue  # Clair refuses a manifest without layers; nothing to find
                body = index_request(
                    image.digest,
                    layers,
                    registry_url=self.client.base_url,
                    repository=repository,
                    authorization=authorization,
                )
                await self._index(session, body, deadline)
                report = await self._vulnerability_report(session, image.digest, deadline)
                findings.extend(findings_from_report(report))
        log.info("clair: %s@%s: %d findings", repository, digest, len(findings))
        return merge_findings((self.name, findings))

    async def _index(
        self, session: aiohttp.ClientSession, body: dict[str, Any], deadline: float
    ) -> None:
        digest = body["hash"]
        url = f"{self.url}{INDEXER}/index_report"
        report = (await self._call(session, "POST", url, deadline, json_body=body)).json(url)
        interval = self.poll_interval
        loop = asyncio.get_running_loop()
        while True:
            state = text(report.get("state"))
            if state == INDEX_FINISHED:
                return
            if state == INDEX_ERROR:
                reason = text(report.get("err")) or "no reason given"
                raise BackendError(f"clair could not index {digest}: {reason}")
            if loop.time() + interval >= deadline:
                raise BackendUnavailable(
                    f"clair is still indexing {digest} (state {state or 'unknown'}) "
                    f"after {self.timeout:g}s"
                )
            await asyncio.sleep(interval)
            interval = min(interval * 2, self.max_poll_interval)
            url = f"{self.url}{INDEXER}/index_report/{quote(digest)}"
            report = (await self._call(session, "GET", url, deadline)).json(url)

    async def _vulnerability_report(
        self, session: aiohttp.ClientSession, digest: str, deadline: float
    ) -> dict[str, Any]:
        url = f"{self.url}{MATCHER}/vulnerability_report/{quote(digest)}"
        answer = await self._call(session, "GET", url, deadline)
        if answer.status == 202:  # the matcher has no vulnerability data yet
            raise BackendUnavailable(f"GET {url}: clair's matcher is not initialized yet")
        report = answer.json(url)
        if not isinstance(report.get("vulnerabilities", {}), dict) or not isinstance(
            report.get("package_vulnerabilities", {}), dict
        ):
            raise BackendError(f"GET {url}: not a vulnerability report")
        return report

    async def _call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        deadline: float,
        *,
        json_body: dict[str, Any] | None = None,
    ) -> Answer:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise BackendUnavailable(f"{method} {url}: no report within {self.timeout:g}s")
        timeout = aiohttp.ClientTimeout(
            total=remaining, sock_connect=min(remaining, CONNECT_TIMEOUT)
        )
        headers = {"Accept": "application/json"}
        try:
            async with session.request(
                method, url, json=json_body, headers=headers, timeout=timeout, allow_redirects=False
            ) as resp:
                status = resp.status
                body = await read_bounded(resp, MAX_REPORT_BYTES, f"{method} {url}")
        except TimeoutError as exc:
            raise BackendUnavailable(f"{method} {url}: no answer within {remaining:.1f}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise BackendUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if status == 429 or status >= 500:
            raise BackendUnavailable(f"{method} {url}: {status} {_message(body)}".rstrip())
        if status not in (200, 201, 202):
            raise BackendError(f"{method} {url}: {status} {_message(body)}".rstrip())
        return Answer(status, {}, body)
