"""Scanning on request through a real server: ``POST /api/v1/scans`` on an image in the real
registry, and the command line's client of it (:mod:`portside.apiclient`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from portside import apiclient
from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import LayerCache
from portside.errors import ApiClientError
from portside.registry.client import RegistryClient
from portside.security.scanning.task import ScanTask
from portside.settings import RegistrySettings, ScanTaskSettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.integration.conftest import make_settings, serving
from tests.integration.test_scanning import LAYERS, import_osv, tag_bomb_image
from tests.support.oci import Layout, push
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry

ADMIN = "admin-s3cret"


@dataclass
class Served:
    base: str
    http: aiohttp.ClientSession
    db: Database
    registry_url: str
    digest: str

    async def scan(self, body: dict[str, Any], token: str | None = ADMIN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(f"{self.base}/api/v1/scans", json=body, headers=headers) as r:
            return r.status, await r.json()

    async def layers_cached(self) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(LayerCache)) or 0)


@pytest.fixture
async def served(db: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    with running_registry(tmp_path / "registry") as registry:
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image(LAYERS)
        layout.tag(image, "1.0")
        tag_bomb_image(layout)
        digest = await asyncio.to_thread(push, layout.path, "1.0", registry.url, "ns/app")
        await asyncio.to_thread(push, layout.path, "bomb", registry.url, "ns/bomb")
        await import_osv(db, tmp_path, ["DSA-5514-1", "GHSA-c2qf-rxjj-qqgw"])
        settings = make_settings(
            database_url,
            api={"admin_tokens": [ADMIN]},
            registry={"url": registry.url},
            background={"scan": {"max_file_bytes": 1024 * 1024}},
        )
        async with (
            serving(create_app(settings), settings.server.port) as base,
            aiohttp.ClientSession() as http,
        ):
            yield Served(base, http, db, registry.url, digest)


async def test_a_scan_on_request_needs_the_admin_token(served: Served) -> None:
    for token in (None, "wrong"):
        status, body = await served.scan({"reference": "ns/app:1.0"}, token=token)
        assert status == 401
        assert body["error"]["code"] == "unauthorized"
    assert await served.layers_cached() == 0  # nothing was read


async def test_an_image_is_scanned_now_and_its_layers_cached(served: Served) -> None:
    status, report = await served.scan({"reference": "ns/app:1.0"})
    assert status == 200, report
    assert report["source"] == "scanned"
    assert report["digest"] == served.digest
    assert report["os"]["id"] == "debian"
    names = {(p["ecosystem"], p["name"]) for p in report["packages"]}
    assert {("deb", "libc6"), ("pypi", "jinja2"), ("npm", "semver")} <= names
    assert ("pypi", "requests") not in names  # whited out in the last layer
    assert {v["id"] for v in report["vulnerabilities"]} == {"DSA-5514-1", "GHSA-c2qf-rxjj-qqgw"}
    assert report["severity_counts"]
    cached = await served.layers_cached()
    assert cached == len(LAYERS)
    # By digest, the same answer; every layer comes from the cache (none is added).
    status, again = await served.scan({"reference": f"ns/app@{served.digest}"})
    assert status == 200
    assert again["packages"] == report["packages"]
    assert await served.layers_cached() == cached
    async with served.http.get(f"{served.base}/metrics") as resp:
        metrics = await resp.text()
    assert 'portside_scan_request_seconds_count{source="scanned"} 2.0' in metrics


async def test_the_stored_scan_is_the_answer_unless_a_fresh_one_is_asked(served: Served) -> None:
    async with RegistryClient(RegistrySettings(url=served.registry_url)) as client:
        await SyncRun(served.db, client, SyncOptions()).run()
        task = ScanTask(served.db, client, ScanTaskSettings(), worker="w")
        await task.run_once()
    status, report = await served.scan({"reference": "ns/app:1.0"})
    assert status == 200, report
    assert report["source"] == "stored"
    assert report["scanned_at"] is not None
    assert {v["id"] for v in report["vulnerabilities"]} == {"DSA-5514-1", "GHSA-c2qf-rxjj-qqgw"}
    status, fresh = await served.scan({"reference": "ns/app:1.0", "reuse": False})
    assert status == 200
    assert fresh["source"] == "scanned"
    assert sorted(p["name"] for p in fresh["packages"]) == sorted(
        p["name"] for p in report["packages"]
    )


async def test_refusals_say_why(served: Served) -> None:
    status, body = await served.scan({"reference": "ns/app:nope"})
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = await served.scan({"reference": "ns/app@md5:abc"})
    assert (status, body["error"]["code"]) == (422, "invalid_request")
    status, body = await served.scan({"reference": ""})
    assert (status, body["error"]["code"]) == (422, "invalid_request")
    status, body = await served.scan({"reference": "ns/bomb:bomb"})  # a 64 MiB status file
    assert (status, body["error"]["code"]) == (422, "layer_rejected")
    assert "max_file_bytes" in body["error"]["message"]
    status, _ = await served.scan({"reference": "ns/app:1.0"})
    assert status == 200  # the server goes on


async def test_without_a_registry_the_call_is_refused(database_url: str) -> None:
    settings = make_settings(database_url, api={"admin_tokens": [ADMIN]})
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with http.post(
            f"{base}/api/v1/scans", json={"reference": "ns/app:1.0"}, headers=headers
        ) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["code"] == "not_configured"


async def test_the_command_line_client(served: Served) -> None:
    report = await asyncio.to_thread(apiclient.request_scan, served.base, ADMIN, "ns/app:1.0")
    assert report["digest"] == served.digest
    assert any(p["name"] == "libc6" for p in report["packages"])

    with pytest.raises(ApiClientError, match="401.*--token") as refused:
        await asyncio.to_thread(apiclient.request_scan, served.base, "wrong", "ns/app:1.0")
    assert refused.value.status == 401
    with pytest.raises(ApiClientError, match="404: tag nope not found in ns/app"):
        await asyncio.to_thread(apiclient.request_scan, served.base, ADMIN, "ns/app:nope")
    with pytest.raises(ApiClientError, match="larger than 1000 bytes"):
        await asyncio.to_thread(
            apiclient.request_scan, served.base, ADMIN, "ns/app:1.0", limit=1000
        )
    with pytest.raises(ApiClientError, match="an http:// or https:// address"):
        await asyncio.to_thread(apiclient.request_scan, "file:///etc", ADMIN, "ns/app:1.0")
    with pytest.raises(ApiClientError, match="cannot reach Portside"):
        await asyncio.to_thread(apiclient.request_scan, "http://127.0.0.1:9", ADMIN, "ns/app:1.0")
