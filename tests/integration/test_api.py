"""The JSON API through a real server: reads, admin-only mutations, one error shape."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import ScanTarget
from portside.index import store
from portside.index.vocabulary import ActivityKind
from portside.registry.images import ImageInfo
from tests.integration.conftest import make_settings, serving

ADMIN = "admin-s3cret"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def seed(db: Database) -> int:
    async with db.write() as session:
        registry_id = await store.ensure_registry(session, "http://r", NOW)
        repos, _ = await store.ensure_repositories(session, registry_id, ["ns/app"], NOW)
        repo = repos["ns/app"]
        from portside.db.models import Tag

        tag = Tag(
            name="1.0",
            created_at=NOW,
            updated_at=NOW,
            source_at=NOW,
            scan_state="done",
            platforms=[],
        )
        store.apply_image(
            tag,
            ImageInfo(
                digest="sha256:" + "a" * 64,
                media_type="application/vnd.oci.image.manifest.v1+json",
                size=10,
            ),
        )
        repo.tags.append(tag)
        store.record(
            session,
            ActivityKind.TAG_PUSH,
            NOW,
            actor="alice",
            repository="ns/app",
            tag="1.0",
            digest=tag.digest,
        )
        session.add(
            ScanTarget(
                digest=tag.digest,
                repository="ns/app",
                status="done",
                priority=0,
                attempts=1,
                available_at=NOW,
                created_at=NOW,
                scanned_at=NOW,
                counts={"High": 1, "Low": 1},
                packages=[
                    {
                        "name": "bash",
                        "version": "5",
                        "ecosystem": "deb",
                        "purl": "pkg:deb/debian/bash@5",
                    },
                    {
                        "name": "zlib",
                        "version": "1",
                        "ecosystem": "deb",
                        "purl": "pkg:deb/debian/zlib@1",
                    },
                ],
                findings=[
                    {
                        "id": "CVE-2024-2",
                        "severity": "Low",
                        "package": "zlib",
                        "version": "1",
                        "ecosystem": "deb",
                    },
                    {
                        "id": "CVE-2024-1",
                        "severity": "High",
                        "package": "bash",
                        "version": "5",
                        "ecosystem": "deb",
                        "fixed_version": "5.1",
                        "aliases": ["DSA-1"],
                    },
                ],
            )
        )
        await session.flush()
        return tag.id


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[tuple[str, aiohttp.ClientSession, int]]:
    settings = make_settings(database_url, api={"admin_tokens": [ADMIN]})
    async with Database(database_url) as db:
        tag_id = await seed(db)
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        yield base, http, tag_id


async def test_tags_show_their_scan_results(api: tuple[str, aiohttp.ClientSession, int]) -> None:
    base, http, tag_id = api
    async with http.get(f"{base}/api/v1/repositories", params={"q": "app"}) as resp:
        (repo,) = (await resp.json())["items"]
    async with http.get(f"{base}/api/v1/repositories/{repo['id']}/tags") as resp:
        (tag,) = (await resp.json())["items"]
    assert tag["severity_counts"] == {"High": 1, "Low": 1}
    async with http.get(f"{base}/api/v1/tags/{tag_id}/vulnerabilities") as resp:
        body = await resp.json()
    assert [v["id"] for v in body["vulnerabilities"]] == ["CVE-2024-1", "CVE-2024-2"]  # worst first
    assert body["vulnerabilities"][0]["fixed_version"] == "5.1"
    async with http.get(
        f"{base}/api/v1/tags/{tag_id}/vulnerabilities", params={"severity": "Low"}
    ) as resp:
        assert [v["id"] for v in (await resp.json())["vulnerabilities"]] == ["CVE-2024-2"]
    async with http.get(f"{base}/api/v1/tags/999999") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_mutations_need_the_admin_token(api: tuple[str, aiohttp.ClientSession, int]) -> None:
    base, http, tag_id = api
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        async with http.post(
            f"{base}/api/v1/rescan", json={"tag_id": tag_id}, headers=headers
        ) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "unauthorized"
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with http.post(f"{base}/api/v1/rescan", json={"tag_id": tag_id}, headers=admin) as resp:
        assert resp.status == 202
        assert (await resp.json()) == {"queued": 1}
    async with http.post(f"{base}/api/v1/events/retry", json={}, headers=admin) as resp:
        assert resp.status == 202


async def test_anonymous_reads_beyond_loopback_see_the_public_namespaces(
    database_url: str,
) -> None:
    """Reads closed to trusted anonymous readers: anonymous sees the public namespaces only
    (``ns``, created by a push, is private), never the global numbers."""
    settings = make_settings(database_url, api={"admin_tokens": [ADMIN], "anonymous_reads": False})
    async with Database(database_url) as db:
        tag_id = await seed(db)
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{base}/api/v1/repositories") as resp:
            assert resp.status == 200
            assert (await resp.json())["items"] == []
        async with http.get(f"{base}/api/v1/tags/{tag_id}") as resp:
            assert resp.status == 404
        for path in ("/api/v1/status", "/api/v1/events", "/metrics"):
            async with http.get(base + path) as resp:
                assert resp.status == 401, path
        async with http.get(f"{base}/api/v1/repositories", headers=admin) as resp:
            assert resp.status == 200
            assert [r["name"] for r in (await resp.json())["items"]] == ["ns/app"]
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200


async def test_sbom_of_a_scanned_digest(api: tuple[str, aiohttp.ClientSession, int]) -> None:
    base, http, _ = api
    async with http.get(f"{base}/api/v1/manifests/sha256:{'a' * 64}/sbom") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/vnd.cyclonedx+json")
        bom = json.loads(await resp.read())
    assert {c["purl"] for c in bom["components"]} == {
        "pkg:deb/debian/bash@5",
        "pkg:deb/debian/zlib@1",
    }
    assert {v["id"] for v in bom["vulnerabilities"]} == {"CVE-2024-1", "CVE-2024-2"}
    async with http.get(f"{base}/api/v1/manifests/sha256:{'b' * 64}/sbom") as resp:
        assert resp.status == 404


async def test_webhooks_are_managed_by_admins(api: tuple[str, aiohttp.ClientSession, int]) -> None:
    base, http, _ = api
    admin = {"Authorization": f"Bearer {ADMIN}"}
    body = {
        "name": "ci",
        "url": "http://127.0.0.1:9/hook",
        "secret": "0123456789",
        "kinds": ["push"],
    }
    async with http.post(f"{base}/api/v1/webhooks", json=body) as resp:
        assert resp.status == 401
    async with http.post(
        f"{base}/api/v1/webhooks", json={**body, "url": "ftp://x"}, headers=admin
    ) as resp:
        assert resp.status == 422
    async with http.post(f"{base}/api/v1/webhooks", json=body, headers=admin) as resp:
        assert resp.status == 201
        created = await resp.json()
    assert "secret" not in created
    async with http.post(f"{base}/api/v1/webhooks", json=body, headers=admin) as resp:
        assert resp.status == 409  # the name is taken
    async with http.get(
        f"{base}/api/v1/webhooks/{created['id']}/deliveries", headers=admin
    ) as resp:
        assert (await resp.json())["total"] == 0
    async with http.delete(f"{base}/api/v1/webhooks/{created['id']}", headers=admin) as resp:
        assert resp.status == 204
    async with http.get(f"{base}/api/v1/webhooks", headers=admin) as resp:
        assert await resp.json() == []


async def test_activities_and_summary(api: tuple[str, aiohttp.ClientSession, int]) -> None:
    base, http, _ = api
    async with http.get(f"{base}/api/v1/activities", params={"repository": "ns/app"}) as resp:
        page = await resp.json()
    assert page["total"] == 1
    assert page["items"][0]["kind"] == "tag.push"
    assert page["items"][0]["actor"] == "alice"
    async with http.get(f"{base}/api/v1/summary") as resp:
        summary = await resp.json()
    assert summary["repositories"] == 1
    assert summary["tags"] == 1
    assert summary["scanned_digests"] == 1
    assert summary["vulnerabilities"]["High"] == 1


async def test_names_in_a_request_are_validated(
    api: tuple[str, aiohttp.ClientSession, int],
) -> None:
    """A repository or digest that is not a valid distribution name is refused with 422."""
    base, http, _ = api
    for repository in ("evil/../team/app", "Team/App", "a\u202eb", "x" * 256):
        url = f"{base}/api/v1/activities"
        async with http.get(url, params={"repository": repository}) as resp:
            assert resp.status == 422
            assert (await resp.json())["error"]["code"] == "invalid_name"
    for digest in ("sha256:" + "A" * 64, "sha256:..", "sha256:%2e%2e"):
        async with http.get(f"{base}/api/v1/manifests/{digest}/sbom") as resp:
            assert resp.status == 422, digest
    async with http.get(f"{base}/api/v1/activities", params={"repository": "ns/app"}) as resp:
        assert resp.status == 200
