"""Names that are not valid distribution names, against the real registry: the client refuses
them before sending anything; a junk row already in the index is deleted from the index only,
never through a registry URL that would resolve to another repository; the sync skips junk
names the registry lists (injected by a proxy: a real registry never lists them), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import Repository, Tag
from portside.deletion import delete_repository, delete_tag
from portside.errors import InvalidName
from portside.index import store
from portside.registry import paths
from portside.registry.client import RegistryClient
from portside.settings import RegistrySettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.integration.conftest import make_settings, serving
from tests.support.faultproxy import FaultProxy
from tests.support.net import free_port
from tests.support.populate import Pusher, make_image
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry
ADMIN = {"Authorization": "Bearer admin"}
JUNK = "evil/../team/app"


@dataclass
class Setup:
    registry_url: str
    proxy: FaultProxy
    digest: str  # team/app:1.0


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    """A registry with team/app:1.0 and other/app:1.0, behind a proxy that sees every path."""
    with running_registry(tmp_path / "registry") as registry:
        async with Pusher(registry.url) as pusher:
            digest = await pusher.push("team/app", "1.0", make_image("team"))
            await pusher.push("other/app", "1.0", make_image("other"))
            await pusher.push("third/app", "1.0", make_image("third"))
        proxy = FaultProxy(registry.url, lambda request: None)
        await proxy.start(free_port())
        try:
            yield Setup(registry.url, proxy, digest)
        finally:
            await proxy.stop()


async def still_there(setup: Setup) -> None:
    async with RegistryClient(RegistrySettings(url=setup.registry_url)) as client:
        assert (await client.head_manifest("team/app", "1.0")).digest == setup.digest
        assert await client.tags("team/app") == ["1.0"]


async def test_the_client_refuses_invalid_names_and_sends_nothing(setup: Setup) -> None:
    sha = setup.digest
    async with RegistryClient(RegistrySettings(url=setup.proxy.url)) as client:
        calls = [
            lambda: client.delete_manifest(JUNK, sha),
            lambda: client.delete_manifest("evil/%2e%2e/team/app", sha),
            lambda: client.delete_manifest("team/app", "1.0"),  # by tag: never
            lambda: client.head_manifest(JUNK, "1.0"),
            lambda: client.head_manifest("team/app", "../../other/app/manifests/1.0"),
            lambda: client.get_manifest(JUNK, sha),
            lambda: client.get_manifest("Team/App", "1.0"),
            lambda: client.get_blob(JUNK, sha, 1024),
            lambda: client.get_blob("team/app", "sha256:../x", 1024),
            lambda: client.tags(JUNK),
            lambda: client.tags("team/app\x00"),
            lambda: client.auth_header(JUNK),
        ]
        for call in calls:
            with pytest.raises(InvalidName):
                await call()
        with pytest.raises(InvalidName):
            async for _ in client.stream_blob(JUNK, sha):
                pass
        assert client.stats.requests == 0
    assert setup.proxy.seen == []
    await still_there(setup)


async def add_junk(db: Database, registry_url: str, digest: str) -> None:
    """Rows as the webhook stored them before names were checked: a repository whose name
    resolves to team/app, and a junk tag in team/app itself, both on team/app's digest."""
    now = datetime.now(UTC)
    async with db.write() as session:
        registry_id = await store.ensure_registry(session, registry_url, now)
        repos, _ = await store.ensure_repositories(session, registry_id, [JUNK, "team/app"], now)
        team = next(t for t in repos["team/app"].tags if t.name == "1.0")
        image = store.image_of(team)
        session.add(Tag(**store.new_tag(repos[JUNK].id, "1.0", image, now)))
        session.add(Tag(**store.new_tag(repos["team/app"].id, "../1.0", image, now)))


async def index(db: Database) -> set[tuple[str, str]]:
    async with db.read() as session:
        rows = await session.execute(
            select(Repository.name, Tag.name).join(Tag, Tag.repository_id == Repository.id)
        )
        return {(repo, tag) for repo, tag in rows.all()}


async def test_deleting_indexed_junk_goes_to_the_index_only(db: Database, setup: Setup) -> None:
    async with RegistryClient(RegistrySettings(url=setup.registry_url)) as client:
        await SyncRun(db, client, SyncOptions()).run()
    await add_junk(db, setup.proxy.url, setup.digest)
    async with db.read() as session:
        junk_repo = await session.scalar(select(Repository.id).where(Repository.name == JUNK))
        junk_tag = await session.scalar(select(Tag.id).where(Tag.name == "../1.0"))
    settings = make_settings(
        db.url, registry={"url": setup.proxy.url}, api={"admin_tokens": ["admin"]}
    )
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        # The junk tag shares team/app:1.0's digest: deleting it is not a sibling deletion.
        async with http.delete(f"{base}/api/v1/tags/{junk_tag}", headers=ADMIN) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        assert body["tags"] == ["../1.0"]
        assert "not a valid tag" in body["index_only"]
        async with http.delete(f"{base}/api/v1/repositories/{junk_repo}", headers=ADMIN) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        assert body["repository_removed"] and body["tags"] == ["1.0"]
        assert "not a valid repository name" in body["index_only"]
    assert [m for m, _ in setup.proxy.seen if m == "DELETE"] == []
    assert await index(db) == {("team/app", "1.0"), ("other/app", "1.0"), ("third/app", "1.0")}
    await still_there(setup)
    # The command line's way: a junk name not in the index is refused as invalid.
    async with RegistryClient(RegistrySettings(url=setup.proxy.url)) as client:
        with pytest.raises(InvalidName, match="not in the index"):
            await delete_tag(db, client, JUNK, "1.0", with_siblings=False, actor="cli")
        with pytest.raises(InvalidName, match="not in the index"):
            await delete_repository(db, client, "a/%2e%2e/b", actor="cli")
    assert setup.proxy.seen == [] or all(m != "DELETE" for m, _ in setup.proxy.seen)


def with_junk(request: web.Request, body: bytes) -> bytes:
    """Add names no real registry lists to the catalog and to team/app's tags."""
    if request.path == "/v2/_catalog":
        data = json.loads(body)
        data["repositories"] += [JUNK, "Team/App", "a\u202eb", "x" * 300, "ok\x00"]
    elif request.path == "/v2/team/app/tags/list":
        data = json.loads(body)
        data["tags"] += ["../1.0", "1.0\n", "v" * 129]
    else:
        return body
    return json.dumps(data).encode()


async def test_the_sync_skips_and_counts_invalid_names(db: Database, setup: Setup) -> None:
    """The proxy rewrites list bodies: a fake of what a broken or hostile registry lists."""
    async with RegistryClient(RegistrySettings(url=setup.registry_url)) as client:
        await SyncRun(db, client, SyncOptions()).run()
    await add_junk(db, setup.proxy.url, setup.digest)
    setup.proxy.rewrite = with_junk
    async with RegistryClient(RegistrySettings(url=setup.proxy.url)) as client:
        report = await SyncRun(db, client, SyncOptions()).run()
    summary = report.summary
    assert summary.invalid_names == 8
    assert summary.catalog_complete and not summary.errors
    assert summary.repositories == 3
    for _, raw in setup.proxy.seen:  # nothing but the valid names was asked for
        assert not paths.has_dot_segment(raw), raw
        assert raw.split("?")[0].split("/")[2] in ("_catalog", "team", "other", "third"), raw
    # The junk rows the index had are gone (the complete catalog does not list them) and
    # nothing else moved.
    assert await index(db) == {("team/app", "1.0"), ("other/app", "1.0"), ("third/app", "1.0")}
    await still_there(setup)
