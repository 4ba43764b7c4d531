"""Registry events end to end: the real registry notifies a real Portside, which indexes.

Images are built as OCI layouts by the tests and pushed with skopeo; the registry's own
notifications reach the webhook; the events task processes them against the registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portside.app import create_app
from portside.db.engine import Database
from portside.db.models import Activity, RegistryEvent
from portside.events import queue
from portside.events.processor import EventProcessor
from portside.index import store
from portside.reads import history
from portside.reads.paging import Window
from portside.registry.client import RegistryClient
from portside.registry.local import LocalRegistry
from portside.settings import Settings
from tests.integration.conftest import TOKEN, make_settings, serving
from tests.support.net import eventually, free_port
from tests.support.oci import Layout, push
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry


@dataclass
class Stack:
    settings: Settings
    registry: LocalRegistry
    db: Database
    layout: Layout

    async def push(self, tag: str, repository: str, **options: Any) -> str:
        return await asyncio.to_thread(
            push, self.layout.path, tag, self.registry.url, repository, **options
        )

    async def index(self) -> dict[str, dict[str, dict[str, Any]]]:
        async with self.db.read() as session:
            exported = await store.export(session)
        return {r["name"]: {t["name"]: t for t in r["tags"]} for r in exported["repositories"]}

    async def activities(self, kind: str | None = None) -> list[Activity]:
        async with self.db.read() as session:
            query = select(Activity).order_by(Activity.id)
            if kind:
                query = query.where(Activity.kind == kind)
            return list((await session.scalars(query)).all())

    async def events(self, status: str | None = None) -> list[RegistryEvent]:
        async with self.db.read() as session:
            return (await history.events(session, Window(1000), status=status)).page.rows


async def _stack(database_url: str, tmp_path: Path, *, background: bool) -> AsyncIterator[Stack]:
    port = free_port()
    with running_registry(
        tmp_path / "registry", notify_url=f"http://127.0.0.1:{port}", notify_token=TOKEN
    ) as registry:
        settings = make_settings(
            database_url,
            server={"port": port},
            registry={"url": registry.url},
            background={"events": {"interval": 0.2, "not_found_delay": 0.2, "backoff_base": 0.2}},
        )
        async with (
            serving(create_app(settings, background=background), port),
            Database(database_url) as db,
        ):
            yield Stack(settings, registry, db, Layout(tmp_path / "layout"))


@pytest.fixture
async def stack(database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """Registry -> webhook -> events task, all running."""
    async for item in _stack(database_url, tmp_path, background=True):
        yield item


@pytest.fixture
async def stored_only(database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """Registry -> webhook; events are stored and processed by the test itself."""
    async for item in _stack(database_url, tmp_path, background=False):
        yield item


async def test_every_kind_of_image_appears(stack: Stack) -> None:
    oci, built = stack.layout.image({"app/main.py": b"print('hi')\n"})
    stack.layout.tag(oci, "1.0")
    amd, _ = stack.layout.image({"bin": b"amd64"}, architecture="amd64")
    arm, _ = stack.layout.image({"bin": b"arm64"}, architecture="arm64")
    index, _ = stack.layout.index([amd, arm])
    stack.layout.tag(index, "multi")

    oci_digest = await stack.push("1.0", "ns/oci")
    docker_digest = await stack.push("1.0", "brandnew/docker", docker_v2s2=True)
    index_digest = await stack.push("multi", "ns/multi", all_platforms=True)
    top_digest = await stack.push("1.0", "toplevel")

    async def all_there() -> dict[str, dict[str, dict[str, Any]]] | None:
        found = await stack.index()
        return found if len(found) == 4 else None

    index_now = await eventually(all_there)
    oci_tag = index_now["ns/oci"]["1.0"]
    assert oci_tag["digest"] == oci_digest
    assert oci_tag["media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert oci_tag["size"] == built.size
    assert [(p["os"], p["architecture"]) for p in oci_tag["platforms"]] == [("linux", "amd64")]
    assert oci_tag["pushed_at"] is not None
    assert oci_tag["pulled_at"] is None  # Portside's own manifest reads are not pulls

    docker_tag = index_now["brandnew/docker"]["1.0"]
    assert docker_tag["digest"] == docker_digest
    assert docker_tag["media_type"] == "application/vnd.docker.distribution.manifest.v2+json"

    multi = index_now["ns/multi"]["multi"]
    assert multi["digest"] == index_digest
    assert multi["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert sorted(p["architecture"] for p in multi["platforms"]) == ["amd64", "arm64"]
    assert multi["size"] == sum(p["size"] for p in multi["platforms"])
    assert index_now["toplevel"]["1.0"]["digest"] == top_digest

    created = {a.repository for a in await stack.activities("repository.create")}
    assert created == {"ns/oci", "brandnew/docker", "ns/multi", "toplevel"}
    # Push events by digest (an index's children) index nothing by themselves.
    assert not await stack.events("failed")


async def test_an_overwritten_tag_follows_the_new_digest(stack: Stack) -> None:
    first, _ = stack.layout.image({"v": b"1"})
    stack.layout.tag(first, "1.0")
    old = await stack.push("1.0", "ns/app")
    await eventually(lambda: _digest_is(stack, "ns/app", "1.0", old))
    second, _ = stack.layout.image({"v": b"2"})
    stack.layout.tag(second, "1.0")
    new = await stack.push("1.0", "ns/app")
    await eventually(lambda: _digest_is(stack, "ns/app", "1.0", new))
    pushes = await stack.activities("tag.push")
    assert [(a.digest, a.details["previous_digest"]) for a in pushes] == [(old, None), (new, old)]


async def _digest_is(stack: Stack, repository: str, tag: str, digest: str) -> bool:
    found = await stack.index()
    return found.get(repository, {}).get(tag, {}).get("digest") == digest


async def test_delete_by_digest_takes_both_tags_then_the_repository(stack: Stack) -> None:
    shared, _ = stack.layout.image({"shared": b"1"})
    stack.layout.tag(shared, "1.0")
    stack.layout.tag(shared, "latest")
    other, _ = stack.layout.image({"other": b"2"})
    stack.layout.tag(other, "2.0")
    digest = await stack.push("1.0", "ns/app")
    await stack.push("latest", "ns/app")
    other_digest = await stack.push("2.0", "ns/app")

    async def tags() -> set[str]:
        return set((await stack.index()).get("ns/app", {}))

    await eventually(lambda: _eq(tags(), {"1.0", "latest", "2.0"}))
    async with RegistryClient(stack.settings.registry) as client:
        await client.delete_manifest("ns/app", digest)
        await eventually(lambda: _eq(tags(), {"2.0"}))
        await client.delete_manifest("ns/app", other_digest)
    await eventually(lambda: _eq(stack.index(), {}))
    deleted = {(a.tag, a.digest) for a in await stack.activities("tag.delete")}
    assert deleted == {("1.0", digest), ("latest", digest), ("2.0", other_digest)}
    assert [a.repository for a in await stack.activities("repository.delete")] == ["ns/app"]


async def _eq(awaitable: Any, expected: Any) -> bool:
    return bool(await awaitable == expected)


async def test_a_pull_by_another_client_sets_pulled_at(stack: Stack) -> None:
    image, _ = stack.layout.image({"x": b"1"})
    stack.layout.tag(image, "1.0")
    await stack.push("1.0", "ns/pulled")
    await eventually(lambda: _digest_is(stack, "ns/pulled", "1.0", image["digest"]))  # type: ignore[arg-type]
    assert (await stack.index())["ns/pulled"]["1.0"]["pulled_at"] is None
    target = stack.registry.url.removeprefix("http://")
    process = await asyncio.create_subprocess_exec(
        "skopeo",
        "inspect",
        "--raw",
        "--tls-verify=false",
        f"docker://{target}/ns/pulled:1.0",
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await process.wait() == 0

    async def pulled() -> bool:
        return (await stack.index())["ns/pulled"]["1.0"]["pulled_at"] is not None

    await eventually(pulled)


async def test_a_registry_down_while_processing_is_retried(
    stored_only: Stack, tmp_path: Path
) -> None:
    stack = stored_only
    image, _ = stack.layout.image({"x": b"down"})
    stack.layout.tag(image, "1.0")
    digest = await stack.push("1.0", "ns/app")
    await eventually(lambda: _count(stack.events("fresh"), 1))
    stack.registry.stop()

    clock = Clock()
    settings = stack.settings.background.events
    async with RegistryClient(stack.settings.registry) as client:
        processor = EventProcessor(stack.db, client, settings, worker="w", clock=clock)
        result = await processor.run_batch()
        assert (result.claimed, result.done, result.retried) == (1, 0, 1)
        (waiting,) = await stack.events("fresh")
        assert "RegistryUnavailable" in (waiting.error or "")
        assert (await processor.run_batch()).claimed == 0  # backing off

        stack.registry.start()  # same port, same storage
        clock.advance(seconds=60)
        result = await processor.run_batch()
        assert (result.claimed, result.done) == (1, 1)
    assert (await stack.index())["ns/app"]["1.0"]["digest"] == digest


async def test_a_dead_workers_event_is_processed_once_after_its_lease(stored_only: Stack) -> None:
    stack = stored_only
    image, _ = stack.layout.image({"x": b"lease"})
    stack.layout.tag(image, "1.0")
    await stack.push("1.0", "ns/app")
    await eventually(lambda: _count(stack.events("fresh"), 1))
    settings = stack.settings.background.events
    clock = Clock()
    # A worker claims the batch, then dies: its claim stays, with its lease.
    async with stack.db.write() as session:
        claimed = await queue.claim(
            session,
            worker="killed",
            now=clock(),
            limit=10,
            lease=timedelta(seconds=settings.lease),
            max_attempts=settings.max_attempts,
        )
    assert len(claimed.events) == 1
    async with RegistryClient(stack.settings.registry) as client:
        processor = EventProcessor(stack.db, client, settings, worker="alive", clock=clock)
        assert (await processor.run_batch()).claimed == 0  # still leased
        clock.advance(seconds=settings.lease + 1)
        assert (await processor.run_batch()).done == 1
        assert (await processor.run_batch()).claimed == 0
    assert len(await stack.activities("tag.push")) == 1
    (done,) = await stack.events("done")
    assert done.attempts == 2


async def test_a_manifest_missing_after_its_push_is_retried_then_dropped(
    stored_only: Stack,
) -> None:
    stack = stored_only
    image, _ = stack.layout.image({"x": b"real"})
    stack.layout.tag(image, "1.0")
    await stack.push("1.0", "ns/app")
    await eventually(lambda: _count(stack.events("fresh"), 1))
    # The same push, for a digest the registry does not have (as when the event outruns storage).
    async with stack.db.write() as session:
        (real,) = (await session.scalars(select(RegistryEvent))).all()
        real.digest = "sha256:" + "0" * 64
    clock = Clock()
    settings = stack.settings.background.events
    async with RegistryClient(stack.settings.registry) as client:
        processor = EventProcessor(stack.db, client, settings, worker="w", clock=clock)
        for _ in range(settings.not_found_retries):
            assert (await processor.run_batch()).retried == 1
            clock.advance(seconds=settings.not_found_delay + 0.1)
        assert (await processor.run_batch()).done == 1
    assert await stack.index() == {}
    assert not await stack.events("failed")


async def _count(awaitable: Any, n: int) -> bool:
    return len(await awaitable) == n


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def test_metrics_show_the_work(stack: Stack) -> None:
    import aiohttp

    image, _ = stack.layout.image({"m": b"1"})
    stack.layout.tag(image, "1.0")
    await stack.push("1.0", "ns/metrics")
    await eventually(lambda: _digest_is(stack, "ns/metrics", "1.0", image["digest"]))  # type: ignore[arg-type]
    base = f"http://127.0.0.1:{stack.settings.server.port}"

    async def scrape() -> str | None:
        async with aiohttp.ClientSession() as http, http.get(base + "/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
        return text if 'portside_events_total{outcome="done"}' in text else None

    text = await eventually(scrape)
    assert 'portside_registry_request_seconds_count{endpoint="manifests",status="200"}' in text
    assert "portside_webhook_events_stored_total 1" in text
    assert 'portside_queue_depth{queue="events",status="done"} 1.0' in text
    assert 'portside_task_run_seconds_count{task="events"}' in text
