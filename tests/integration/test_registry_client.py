"""The registry client against the real registry: anonymous, htpasswd basic and token auth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import bcrypt
import pytest
from aiohttp import web

from portside.errors import (
    RegistryAuthError,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryUnavailable,
)
from portside.registry.client import RegistryClient
from portside.registry.images import describe
from portside.settings import RegistrySettings
from tests.support.net import free_port
from tests.support.oci import Layout, push
from tests.support.registry import running_registry
from tests.support.tokenauth import TokenIssuer

pytestmark = pytest.mark.registry


def populate(layout: Layout, url: str, repositories: list[str], creds: str | None = None) -> str:
    image, _ = layout.image({"f": b"content"})
    layout.tag(image, "1.0")
    layout.tag(image, "2.0")
    for repository in repositories:
        push(layout.path, "1.0", url, repository, creds=creds)
    push(layout.path, "2.0", url, repositories[0], creds=creds)
    return str(image["digest"])


async def exercise(client: RegistryClient, digest: str, repositories: list[str]) -> None:
    await client.ping()
    names = [name async for page in client.catalog(2) for name in page]
    assert names == sorted(repositories)
    assert sorted(await client.tags(repositories[0])) == ["1.0", "2.0"]
    head = await client.head_manifest(repositories[0], "1.0")
    assert head.digest == digest
    manifest = await client.get_manifest(repositories[0], "1.0")
    assert manifest.digest == digest
    info = await describe(client, repositories[0], digest)
    assert info.config_digest is not None
    assert info.platforms[0]["architecture"] == "amd64"
    with pytest.raises(RegistryNotFound):
        await client.get_manifest(repositories[0], "nope")


REPOS = ["a/b/c", "a/one", "two", "z/last"]


async def test_anonymous(tmp_path: Path) -> None:
    with running_registry(tmp_path / "r") as registry:
        digest = await asyncio.to_thread(populate, Layout(tmp_path / "l"), registry.url, REPOS)
        async with RegistryClient(RegistrySettings(url=registry.url)) as client:
            await exercise(client, digest, REPOS)
            assert client.stats.token_requests == 0


async def test_htpasswd_basic_auth(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"robot:{hashed}\n")
    with running_registry(tmp_path / "r", htpasswd=htpasswd) as registry:
        digest = await asyncio.to_thread(
            populate, Layout(tmp_path / "l"), registry.url, REPOS, "robot:pw"
        )
        settings = RegistrySettings(url=registry.url, username="robot", password="pw")  # type: ignore[arg-type]
        async with RegistryClient(settings) as client:
            await exercise(client, digest, REPOS)
        wrong = RegistrySettings(url=registry.url, username="robot", password="nope")  # type: ignore[arg-type]
        async with RegistryClient(wrong) as client:
            # The error names the settings to check.
            with pytest.raises(RegistryAuthError, match=r"check registry\.username \('robot'\)"):
                await client.ping()
        async with RegistryClient(RegistrySettings(url=registry.url)) as client:
            with pytest.raises(RegistryAuthError, match=r"set registry\.username"):
                await client.ping()


@pytest.fixture
async def issuer(tmp_path: Path) -> AsyncIterator[TokenIssuer]:
    issuer = TokenIssuer(tmp_path, {"robot": "pw"})
    await issuer.start(free_port())
    try:
        yield issuer
    finally:
        await issuer.stop()


async def test_token_auth_reuses_tokens_per_scope(tmp_path: Path, issuer: TokenIssuer) -> None:
    with running_registry(tmp_path / "r", token_auth=issuer.registry_auth()) as registry:
        digest = await asyncio.to_thread(
            populate, Layout(tmp_path / "l"), registry.url, REPOS, "robot:pw"
        )
        issuer.requests.clear()
        settings = RegistrySettings(url=registry.url, username="robot", password="pw")  # type: ignore[arg-type]
        async with RegistryClient(settings) as client:
            await exercise(client, digest, REPOS)
            await exercise(client, digest, REPOS)
        # One token per scope, reused across the two passes and every page and manifest.
        assert issuer.requests["registry:catalog:*"] == 1
        assert issuer.requests["repository:a/b/c:pull"] == 1
        assert all(count == 1 for count in issuer.requests.values())
        wrong = RegistrySettings(url=registry.url, username="robot", password="nope")  # type: ignore[arg-type]
        async with RegistryClient(wrong) as client:
            with pytest.raises(
                RegistryAuthError, match="refused the credentials.*registry.password"
            ):
                await client.ping()


async def test_a_registry_that_is_down_or_lies(tmp_path: Path) -> None:
    # A refused connection is "unavailable", never "gone".
    async with RegistryClient(RegistrySettings(url=f"http://127.0.0.1:{free_port()}")) as client:
        with pytest.raises(RegistryUnavailable):
            await client.ping()

    # Faults the real registry cannot produce, from a stand-in server: a body that does not
    # match its digest, an endless body, a hang.
    good = b'{"schemaVersion": 2, "layers": []}'

    async def lying(request: web.Request) -> web.StreamResponse:
        if "slow" in request.path:
            await asyncio.sleep(5)
        if "huge" in request.path:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            for _ in range(100):
                await response.write(b" " * 65536)
            return response
        return web.Response(body=good, content_type="application/vnd.oci.image.manifest.v1+json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", lying)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        settings = RegistrySettings(
            url=f"http://127.0.0.1:{port}", read_timeout=0.5, max_manifest_bytes=1 << 20
        )
        async with RegistryClient(settings) as client:
            with pytest.raises(RegistryProtocolError, match="digest"):
                await client.get_manifest("x", "sha256:" + "0" * 64)
            with pytest.raises(RegistryProtocolError, match="limit"):
                await client.get_manifest("huge", "latest")
            with pytest.raises(RegistryUnavailable):
                await client.get_manifest("slow", "latest")
    finally:
        await runner.cleanup()


async def test_sync_under_each_auth_mode(tmp_path: Path, issuer: TokenIssuer) -> None:
    """The sync's walk (catalog, tag lists, HEADs, GETs) under basic and token auth."""
    from portside.db.engine import Database
    from portside.sync.one_pass import SyncOptions, SyncRun
    from tests.support import databases

    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"robot:{bcrypt.hashpw(b'pw', bcrypt.gensalt(rounds=4)).decode()}\n")
    modes = {"basic": {"htpasswd": htpasswd}, "token": {"token_auth": issuer.registry_auth()}}
    template = databases.sqlite_template(tmp_path)
    for mode, options in modes.items():
        with running_registry(tmp_path / mode, **options) as registry:  # type: ignore[arg-type]
            await asyncio.to_thread(
                populate, Layout(tmp_path / f"l-{mode}"), registry.url, REPOS, "robot:pw"
            )
            settings = RegistrySettings(
                url=registry.url, username="robot", password="pw", catalog_page=2
            )  # type: ignore[arg-type]
            async with (
                Database(databases.sqlite_clone(template, tmp_path)) as db,
                RegistryClient(settings) as client,
            ):
                report = await SyncRun(db, client, SyncOptions(page_size=2)).run()
            assert report.summary.errors == [], mode
            assert (report.summary.repositories, report.summary.added) == (4, 5), mode
    assert issuer.requests["registry:catalog:*"] >= 1


@pytest.mark.parametrize(
    "link",
    [
        '<{other}/v2/_catalog?last=a>; rel="next"',  # another host
        '</v2/team/app/manifests/1.0>; rel="next"',  # outside the endpoint
        '</v2/_catalog/../team/app/tags/list>; rel="next"',
        '</v2/_catalog?last=a&n=1>; rel="next"',  # the same page again
    ],
)
async def test_a_link_elsewhere_is_never_followed(link: str) -> None:
    """A registry whose catalog Link leads away (a fake: a real registry never sends one)."""
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        header = link.format(other=f"http://127.0.0.1:{other_port}")
        return web.json_response({"repositories": ["a"]}, headers={"Link": header})

    other_port = free_port()
    servers = []
    for port in (free_port(), other_port):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        servers.append((runner, port))
    try:
        url = f"http://127.0.0.1:{servers[0][1]}"
        async with RegistryClient(RegistrySettings(url=url)) as client:
            with pytest.raises(RegistryProtocolError):
                async for _ in client.catalog(1):
                    pass
    finally:
        for runner, _ in servers:
            await runner.cleanup()
    same_page = "n=1>" in link  # asked once: then the Link points to the page just read
    assert seen == ["/v2/_catalog?n=1"] + (["/v2/_catalog?last=a&n=1"] if same_page else [])
