"""Deleting through the API against the real registry: siblings refused unless asked, the
registry really deletes, the index follows; a registry that does not allow deletes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from portside.app import create_app
from portside.db.engine import Database
from portside.registry.client import RegistryClient
from portside.settings import RegistrySettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.integration.conftest import make_settings, serving
from tests.support.oci import Layout, push
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry
ADMIN = {"Authorization": "Bearer admin"}


async def ids(http: aiohttp.ClientSession, base: str) -> dict[str, int]:
    async with http.get(f"{base}/api/v1/repositories") as resp:
        repos = (await resp.json())["items"]
    found = {}
    for repo in repos:
        found[repo["name"]] = repo["id"]
        async with http.get(f"{base}/api/v1/repositories/{repo['id']}/tags") as resp:
            for tag in (await resp.json())["items"]:
                found[f"{repo['name']}:{tag['name']}"] = tag["id"]
    return found


@pytest.mark.parametrize("deletes", [True, False], ids=["deletes-on", "deletes-off"])
async def test_delete_a_tag_and_a_repository(
    db: Database, database_url: str, tmp_path: Path, deletes: bool
) -> None:
    with running_registry(tmp_path / "registry", delete_enabled=deletes) as registry:
        layout = Layout(tmp_path / "layout")
        shared, _ = layout.image({"a": b"1"})
        layout.tag(shared, "1.0")
        layout.tag(shared, "latest")
        other, _ = layout.image({"b": b"2"})
        layout.tag(other, "2.0")
        for tag in ("1.0", "latest", "2.0"):
            await asyncio.to_thread(push, layout.path, tag, registry.url, "ns/app")
        registry_settings = RegistrySettings(url=registry.url)
        async with RegistryClient(registry_settings) as client:
            await SyncRun(db, client, SyncOptions()).run()
        settings = make_settings(
            database_url, registry={"url": registry.url}, api={"admin_tokens": ["admin"]}
        )
        async with (
            serving(create_app(settings), settings.server.port) as base,
            aiohttp.ClientSession() as http,
        ):
            found = await ids(http, base)
            async with http.delete(f"{base}/api/v1/tags/{found['ns/app:1.0']}") as resp:
                assert resp.status == 401  # no token
            async with http.delete(
                f"{base}/api/v1/tags/{found['ns/app:1.0']}", headers=ADMIN
            ) as resp:
                assert resp.status == 409
                message = (await resp.json())["error"]["message"]
            assert "latest" in message  # names the sibling it would take
            url = f"{base}/api/v1/tags/{found['ns/app:1.0']}?with_siblings=true"
            async with http.delete(url, headers=ADMIN) as resp:
                body = await resp.json()
                if not deletes:
                    assert resp.status == 409
                    assert "does not allow deletes" in body["error"]["message"]
                    return
                assert resp.status == 200, body
            assert body["tags"] == ["1.0", "latest"]
            assert set(await ids(http, base)) == {"ns/app", "ns/app:2.0"}
            async with RegistryClient(registry_settings) as client:
                assert await client.tags("ns/app") == ["2.0"]
            async with http.delete(
                f"{base}/api/v1/repositories/{found['ns/app']}", headers=ADMIN
            ) as resp:
                assert resp.status == 200
                assert (await resp.json())["repository_removed"] is True
            assert await ids(http, base) == {}
            async with http.get(f"{base}/api/v1/events") as resp:
                assert resp.status == 200
