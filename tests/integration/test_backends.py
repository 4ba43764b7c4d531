"""Scanner backends against the real registry and servers that follow Clair's and Harbor's
published API contracts (neither Clair nor a Harbor adapter can run here): the servers pull the
layers Portside points them at, with the credentials it passes on, and answer canned reports.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from sqlalchemy import select

from portside.db.engine import Database
from portside.db.models import ScanTarget, Tag
from portside.registry.client import RegistryClient
from portside.registry.local import LocalRegistry
from portside.security.scanning import advisory_store
from portside.security.scanning.backends import BackendError, BackendUnavailable
from portside.security.scanning.backends.clair import ClairScanner
from portside.security.scanning.backends.harbor import HarborAdapterScanner
from portside.security.scanning.task import ScanTask
from portside.settings import RegistrySettings, ScanTaskSettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.support.net import free_port
from tests.support.oci import Layout, push
from tests.support.registry import running_registry
from tests.support.scanner_servers import (
    REPORT_V10,
    ClairServer,
    FaultServer,
    HarborAdapterServer,
)
from tests.support.tokenauth import TokenIssuer

pytestmark = pytest.mark.registry

DATA = Path(__file__).parent.parent / "data"
LIBC6 = "2.36-9+deb12u2"  # affected by DSA-5514-1 (fixed in 2.36-9+deb12u3)


def layers(greeting: bytes = b"hello") -> list[dict[str, bytes]]:
    status = (DATA / "scan" / "dpkg" / "status").read_text()
    return [
        {
            "etc/os-release": (DATA / "scan" / "dpkg" / "os-release").read_bytes(),
            "var/lib/dpkg/status": status.replace("2.36-9+deb12u14", LIBC6).encode(),
        },
        {"app/hello.txt": greeting},
    ]


# A Clair VulnerabilityReport's canned parts, shaped as Clair v4 answers them.
CLAIR_REPORT: dict[str, Any] = {
    "packages": {
        "41": {
            "id": "41",
            "name": "libc6",
            "version": LIBC6,
            "kind": "binary",
            "source": {"id": "40", "name": "glibc", "version": LIBC6, "kind": "source"},
            "arch": "amd64",
        }
    },
    "distributions": {
        "1": {
            "id": "1",
            "did": "debian",
            "name": "Debian GNU/Linux",
            "version": "12 (bookworm)",
            "version_code_name": "bookworm",
            "version_id": "12",
            "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        }
    },
    "repository": {},
    "environments": {
        "41": [{"package_db": "var/lib/dpkg/status", "distribution_id": "1", "introduced_in": ""}]
    },
    "vulnerabilities": {
        "9001": {
            "id": "9001",
            "updater": "debian/updater/bookworm",
            "name": "DSA-5514-1",
            "description": "glibc - security update\nSeveral vulnerabilities were found.",
            "links": "https://security-tracker.debian.org/tracker/DSA-5514-1 "
            "https://security-tracker.debian.org/tracker/CVE-2023-4911",
            "severity": "High",
            "normalized_severity": "High",
            "package": {"id": "", "name": "glibc", "version": "", "kind": "source"},
            "dist": {"id": "", "did": "debian", "version_id": "12"},
            "fixed_in_version": "2.36-9+deb12u3",
        },
        "9002": {
            "id": "9002",
            "updater": "debian/updater/bookworm",
            "name": "CVE-2010-4756",
            "description": "The glob implementation in the GNU C Library allows ...",
            "links": "https://security-tracker.debian.org/tracker/CVE-2010-4756",
            "severity": "unimportant",
            "normalized_severity": "Negligible",
            "package": {"id": "", "name": "glibc", "version": "", "kind": "source"},
            "fixed_in_version": "",
        },
    },
    "package_vulnerabilities": {"41": ["9001", "9002"]},
}

# A HarborVulnerabilityReport's vulnerabilities, shaped as harbor-scanner-trivy answers them.
HARBOR_VULNERABILITIES: list[dict[str, Any]] = [
    {
        "id": "CVE-2023-4911",
        "package": "libc6",
        "version": LIBC6,
        "fix_version": "2.36-9+deb12u3",
        "severity": "High",
        "description": "glibc: buffer overflow in ld.so leading to privilege escalation\nA buffer "
        "overflow was discovered in the GNU C Library's dynamic loader ld.so.",
        "links": ["https://avd.aquasec.com/nvd/cve-2023-4911"],
        "preferred_cvss": {
            "score_v3": 7.8,
            "vector_v3": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
        },
        "cwe_ids": ["CWE-122"],
    },
    {
        "id": "TEMP-0290435-0B57B5",
        "package": "bash",
        "version": "5.2.15-2+b2",
        "fix_version": "",
        "severity": "Unknown",
        "description": "",
        "links": [],
        "preferred_cvss": {"score_v3": 5.5},
        "cwe_ids": [],
    },
]


@dataclass
class Images:
    registry: LocalRegistry
    app: str  # ns/app:1.0, an OCI image
    docker: str  # ns/docker:1.0, the same image as Docker schema 2
    multi: str  # ns/multi:1.0, an OCI index of amd64 + arm64
    children: list[str]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Images]:
    """One registry for the module, its images pushed once (tests only read them)."""
    root = tmp_path_factory.mktemp("backends")
    with running_registry(root / "registry") as registry:
        layout = Layout(root / "layout")
        image, _ = layout.image(layers())
        amd64, _ = layout.image(layers(b"amd64"))
        arm64, _ = layout.image(layers(b"arm64"), architecture="arm64")
        index, _ = layout.index([amd64, arm64])
        layout.tag(image, "1.0")
        layout.tag(index, "multi")
        app = push(layout.path, "1.0", registry.url, "ns/app")
        docker = push(layout.path, "1.0", registry.url, "ns/docker", docker_v2s2=True)
        multi = push(layout.path, "multi", registry.url, "ns/multi", all_platforms=True)
        children = [str(amd64["digest"]), str(arm64["digest"])]
        yield Images(registry, app, docker, multi, children)


@pytest.fixture
async def client(images: Images) -> AsyncIterator[RegistryClient]:
    async with RegistryClient(RegistrySettings(url=images.registry.url)) as registry_client:
        yield registry_client


async def targets(db: Database) -> dict[str, ScanTarget]:
    async with db.read() as session:
        return {t.repository: t for t in (await session.scalars(select(ScanTarget))).all()}


async def scan_all(db: Database, client: RegistryClient, **settings: Any) -> None:
    """Index the registry's tags, then one run of the scan task with these settings."""
    await SyncRun(db, client, SyncOptions()).run()
    task = ScanTask(db, client, ScanTaskSettings.model_validate(settings), worker="w")
    await task.run_once()


async def import_dsa(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    shutil.copy(DATA / "osv" / "DSA-5514-1.json", folder)
    await advisory_store.import_path(db, folder, datetime.now(UTC))


def blobs_of(registry: str, repository: str, digest: str) -> list[str]:
    """The layers of an image manifest, read straight from the registry."""
    request = urllib.request.Request(
        f"{registry}/v2/{repository}/manifests/{digest}",
        headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json, "
            "application/vnd.docker.distribution.manifest.v2+json"
        },
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return [layer["digest"] for layer in json.loads(answer.read())["layers"]]


# -- through the scan task ------------------------------------------------------------------
async def test_clair_and_builtin_findings_are_merged_per_id(
    db: Database, images: Images, client: RegistryClient, tmp_path: Path
) -> None:
    await import_dsa(db, tmp_path)
    async with ClairServer(CLAIR_REPORT) as clair:
        await scan_all(db, client, backends=["builtin", "clair"], clair={"url": clair.url})
    found = await targets(db)
    assert set(found) == {"ns/app", "ns/docker", "ns/multi"}
    for target in found.values():
        assert target.status == "done", target.error
        findings = {f["id"]: f for f in target.findings or []}
        assert set(findings) == {"DSA-5514-1", "CVE-2010-4756"}
        both = findings["DSA-5514-1"]
        assert both["scanners"] == ["builtin", "clair"]  # one finding, two scanners
        assert (both["package"], both["version"]) == ("libc6", LIBC6)
        assert both["fixed_version"] == "2.36-9+deb12u3"
        assert "CVE-2023-4911" in both["aliases"]
        assert "https://security-tracker.debian.org/tracker/CVE-2023-4911" in both["links"]
        only = findings["CVE-2010-4756"]
        assert only["scanners"] == ["clair"]
        assert only["severity"] == "Negligible"
        assert only["ecosystem"] == "Debian:12"
        assert only["fixed_version"] is None
        assert target.counts == {"High": 1, "Negligible": 1}
    # Clair was given each image manifest (an index's platforms, not the index) and pulled
    # every layer from the registry, each one checked against its digest.
    assert images.multi not in clair.manifests
    assert set(clair.manifests) == {images.app, images.docker, *images.children}
    repositories = {images.app: "ns/app", images.docker: "ns/docker"}
    repositories.update(dict.fromkeys(images.children, "ns/multi"))
    for digest, manifest in clair.manifests.items():
        repository = repositories[digest]
        expected = blobs_of(images.registry.url, repository, digest)
        assert [layer["hash"] for layer in manifest["layers"]] == expected
        assert manifest["layers"][0]["uri"] == (
            f"{images.registry.url}/v2/{repository}/blobs/{expected[0]}"
        )
        assert manifest["layers"][0]["headers"] == {}  # an anonymous registry
        assert clair.fetched[digest] == expected


async def test_the_harbor_adapter_path(
    db: Database, images: Images, client: RegistryClient
) -> None:
    async with HarborAdapterServer(
        HARBOR_VULNERABILITIES, api_key="k3y", refresh_after=0
    ) as adapter:
        await scan_all(
            db,
            client,
            backends=["harbor-adapter"],
            harbor_adapter={"url": adapter.url, "api_key": "k3y"},
        )
    found = await targets(db)
    for target in found.values():
        assert target.status == "done", target.error
        assert target.packages == []  # the built-in scanner is off
        findings = {f["id"]: f for f in target.findings or []}
        assert set(findings) == {"CVE-2023-4911", "TEMP-0290435-0B57B5"}
        cve = findings["CVE-2023-4911"]
        assert cve["scanners"] == ["harbor-adapter"]
        assert cve["severity"] == "High"
        assert cve["fixed_version"] == "2.36-9+deb12u3"
        assert cve["summary"] == "glibc: buffer overflow in ld.so leading to privilege escalation"
        assert cve["links"] == ["https://avd.aquasec.com/nvd/cve-2023-4911"]
        temp = findings["TEMP-0290435-0B57B5"]
        assert temp["severity"] == "Medium"  # Unknown, with a CVSS v3 score of 5.5
        assert temp["fixed_version"] is None
    assert adapter.metadata_reads == 1  # read once, for the three images
    assert adapter.redirects >= 4 and adapter.polls == adapter.redirects + 4  # 302s, then 200
    assert all(t.endswith("version=1.1") for t in adapter.request_types)
    artifacts = {r["artifact"]["digest"]: r["artifact"] for r in adapter.requests}
    assert set(artifacts) == {images.app, images.docker, *images.children}
    assert artifacts[images.docker]["mime_type"] == (
        "application/vnd.docker.distribution.manifest.v2+json"
    )
    assert artifacts[images.app]["mime_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert all(
        r["registry"] == {"url": images.registry.url, "authorization": ""} for r in adapter.requests
    )
    for digest in artifacts:
        assert len(adapter.fetched[digest]) == 3  # config and both layers, digests checked


async def test_a_backend_that_is_down_is_retried(
    db: Database, images: Images, client: RegistryClient
) -> None:
    async with FaultServer(500) as down:
        started = datetime.now(UTC)
        await scan_all(db, client, backends=["builtin", "clair"], clair={"url": down.url})
    assert down.requests
    for target in (await targets(db)).values():
        assert target.status == "pending"
        assert target.attempts == 1
        assert (target.error or "").startswith("BackendUnavailable: POST ")
        assert "500 internal-error: boom" in (target.error or "")
        assert target.available_at.replace(tzinfo=UTC) > started
    async with db.read() as session:
        states = set((await session.scalars(select(Tag.scan_state))).all())
    assert states == {"pending"}


async def test_a_backend_that_refuses_fails_the_scan(
    db: Database, images: Images, client: RegistryClient
) -> None:
    refusal = {"code": "bad-request", "message": "failed to deserialize manifest"}
    async with FaultServer(400, body=refusal) as refusing:
        await scan_all(db, client, backends=["builtin", "clair"], clair={"url": refusing.url})
    for target in (await targets(db)).values():
        assert target.status == "failed"
        assert "BackendError" in (target.error or "")
        assert "400 bad-request: failed to deserialize manifest" in (target.error or "")


# -- the backends alone: polling, faults ----------------------------------------------------
async def test_clair_polls_the_index_report_until_indexed_or_timeout(
    images: Images, client: RegistryClient
) -> None:
    async with ClairServer(CLAIR_REPORT, synchronous=False, index_delay=0.3) as clair:
        scanner = ClairScanner(client, url=clair.url, timeout=10)
        findings = await scanner.scan("ns/app", images.app)
    assert clair.polls >= 1
    assert {f["id"] for f in findings} == {"DSA-5514-1", "CVE-2010-4756"}
    assert all(f["scanners"] == ["clair"] for f in findings)
    # Still indexing when the timeout comes: retried later.
    async with ClairServer(CLAIR_REPORT, synchronous=False, index_delay=5) as slow:
        scanner = ClairScanner(client, url=slow.url, timeout=0.6)
        with pytest.raises(BackendUnavailable, match="still indexing"):
            await scanner.scan("ns/app", images.app)


async def test_a_layer_the_scanner_cannot_pull(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as registry:
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image(layers())
        layout.tag(image, "1.0")
        digest = await asyncio.to_thread(push, layout.path, "1.0", registry.url, "ns/broken")
        # The registry loses a layer: Clair cannot fetch it and reports IndexError.
        layer = blobs_of(registry.url, "ns/broken", digest)[1]
        request = urllib.request.Request(
            f"{registry.url}/v2/ns/broken/blobs/{layer}", method="DELETE"
        )
        await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)
        async with (
            RegistryClient(RegistrySettings(url=registry.url)) as client,
            ClairServer(CLAIR_REPORT) as clair,
        ):
            with pytest.raises(BackendError, match="could not index .*404") as failed:
                await ClairScanner(client, url=clair.url, timeout=10).scan("ns/broken", digest)
            assert not isinstance(failed.value, BackendUnavailable)
        # A Harbor adapter's failed scan is its report's 500: retried, as it may be transient.
        async with (
            RegistryClient(RegistrySettings(url=registry.url)) as client,
            HarborAdapterServer(HARBOR_VULNERABILITIES, refresh_after=0) as adapter,
        ):
            scanner = HarborAdapterScanner(client, url=adapter.url, timeout=10)
            with pytest.raises(BackendUnavailable, match="/report: 500 pulling ns/broken@.*404"):
                await scanner.scan("ns/broken", digest)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, BackendUnavailable),
        (503, BackendUnavailable),
        (429, BackendUnavailable),
        (404, BackendError),
        (401, BackendError),
    ],
)
async def test_clair_answers_by_status(
    images: Images, client: RegistryClient, status: int, error: type[Exception]
) -> None:
    async with FaultServer(status) as server:
        with pytest.raises(error) as raised:
            await ClairScanner(client, url=server.url, timeout=5).scan("ns/app", images.app)
    assert raised.type is error
    assert f": {status}" in str(raised.value)


async def test_unreachable_and_hanging_backends_are_unavailable(
    images: Images, client: RegistryClient
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for scanner in (
        ClairScanner(client, url=nowhere, timeout=5),
        HarborAdapterScanner(client, url=nowhere, timeout=5),
    ):
        with pytest.raises(BackendUnavailable) as raised:
            await scanner.scan("ns/app", images.app)
        assert isinstance(raised.value.__cause__, aiohttp.ClientConnectionError)
    async with FaultServer(hang=True) as hanging:
        for scanner in (
            ClairScanner(client, url=hanging.url, timeout=0.3),
            HarborAdapterScanner(client, url=hanging.url, timeout=0.3),
        ):
            started = time.monotonic()
            with pytest.raises(BackendUnavailable, match="no answer within") as raised:
                await scanner.scan("ns/app", images.app)
            assert time.monotonic() - started < 2
            assert isinstance(raised.value.__cause__, TimeoutError)
    async with ClairServer(CLAIR_REPORT, matcher_ready=False) as unready:
        with pytest.raises(BackendUnavailable, match="not initialized"):
            await ClairScanner(client, url=unready.url, timeout=5).scan("ns/app", images.app)


async def test_harbor_adapter_faults(images: Images, client: RegistryClient) -> None:
    # A scan that never ends: Refresh-After is honoured, but not past the timeout.
    async with HarborAdapterServer(HARBOR_VULNERABILITIES, never_finish=True) as endless:
        scanner = HarborAdapterScanner(client, url=endless.api, timeout=1.5)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="not ready after 1.5s"):
            await scanner.scan("ns/app", images.app)
        assert 0.9 < time.monotonic() - started < 1.6
        assert endless.polls == 2  # at once, then after Refresh-After: 1
    # A wrong api_key, an adapter that makes no report Portside reads, a 500.
    async with HarborAdapterServer(HARBOR_VULNERABILITIES, api_key="right") as locked:
        with pytest.raises(BackendError, match="401 unauthorized"):
            await HarborAdapterScanner(client, url=locked.url, api_key="wrong", timeout=5).scan(
                "ns/app", images.app
            )
    async with HarborAdapterServer(
        produces=["application/vnd.scanner.adapter.vuln.report.raw"]
    ) as raw:
        with pytest.raises(BackendError, match="produces no vulnerability report"):
            await HarborAdapterScanner(client, url=raw.url, timeout=5).scan("ns/app", images.app)
    async with HarborAdapterServer(HARBOR_VULNERABILITIES, produces=[REPORT_V10]) as old:
        findings = await HarborAdapterScanner(client, url=old.url, timeout=5).scan(
            "ns/app", images.app
        )
        assert {f["id"] for f in findings} == {"CVE-2023-4911", "TEMP-0290435-0B57B5"}
    async with FaultServer(500, body={"error": {"message": "scanner crashed"}}) as crashed:
        with pytest.raises(BackendUnavailable, match="500 scanner crashed"):
            await HarborAdapterScanner(client, url=crashed.url, timeout=5).scan(
                "ns/app", images.app
            )


# -- registry credentials passed on -----------------------------------------------------------
@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[TokenIssuer]:
    issuer = TokenIssuer(tmp_path, {"robot": "pw"})
    await issuer.start(free_port())
    try:
        yield issuer
    finally:
        await issuer.stop()


async def scan_private(registry: LocalRegistry, tmp_path: Path) -> tuple[str, Any, Any]:
    """Push ns/private as robot, scan it with Clair and a Harbor adapter as robot; the
    scanners' servers pull with whatever authorization Portside passes on."""
    layout = Layout(tmp_path / "layout")
    image, _ = layout.image(layers())
    layout.tag(image, "1.0")
    digest = await asyncio.to_thread(
        push, layout.path, "1.0", registry.url, "ns/private", creds="robot:pw"
    )
    settings = RegistrySettings.model_validate(
        {"url": registry.url, "username": "robot", "password": "pw"}
    )
    async with (
        RegistryClient(settings) as client,
        ClairServer(CLAIR_REPORT) as clair,
        HarborAdapterServer(HARBOR_VULNERABILITIES, refresh_after=0) as adapter,
    ):
        from_clair = await ClairScanner(client, url=clair.url, timeout=10).scan(
            "ns/private", digest
        )
        from_adapter = await HarborAdapterScanner(client, url=adapter.url, timeout=10).scan(
            "ns/private", digest
        )
    assert {f["id"] for f in from_clair} == {"DSA-5514-1", "CVE-2010-4756"}
    assert {f["id"] for f in from_adapter} == {"CVE-2023-4911", "TEMP-0290435-0B57B5"}
    assert clair.fetched[digest] and len(adapter.fetched[digest]) == 3
    return digest, clair, adapter


def authorizations(digest: str, clair: ClairServer, adapter: HarborAdapterServer) -> set[str]:
    """What Portside told the scanners to send, and what they sent to the registry."""
    assert clair.puller is not None and adapter.puller is not None
    layers = clair.manifests[digest]["layers"]
    return {
        *(value for layer in layers for values in layer["headers"].values() for value in values),
        adapter.requests[0]["registry"]["authorization"],
        *clair.puller.authorizations,
        *adapter.puller.authorizations,
    }


async def test_registry_token_auth_passes_through(tmp_path: Path, issuer: TokenIssuer) -> None:
    with running_registry(tmp_path / "registry", token_auth=issuer.registry_auth()) as registry:
        issuer.requests.clear()
        digest, clair, adapter = await scan_private(registry, tmp_path)
    sent = authorizations(digest, clair, adapter)
    assert sent and all(value.startswith("Bearer ") for value in sent)
    assert issuer.requests["repository:ns/private:pull"] >= 1


async def test_registry_basic_auth_passes_through(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"robot:{bcrypt.hashpw(b'pw', bcrypt.gensalt(rounds=4)).decode()}\n")
    with running_registry(tmp_path / "registry", htpasswd=htpasswd) as registry:
        digest, clair, adapter = await scan_private(registry, tmp_path)
    assert authorizations(digest, clair, adapter) == {"Basic cm9ib3Q6cHc="}  # robot:pw
