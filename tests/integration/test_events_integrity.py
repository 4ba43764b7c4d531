"""The index tells the truth whatever the events say (issue 10): clocks, forged pushes, late
events, retags. The real registry notifies a real webhook; the test drives the processor and
the sync itself, on SQLite and PostgreSQL. Forged events are posted to the webhook with its
token, as an attacker holding the token (or a confused registry) would."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update

from portside.db.models import Repository, Tag
from portside.events.processor import EventProcessor
from portside.registry.client import RegistryClient
from portside.security.scanning import queue as scan_queue
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.integration.conftest import TOKEN
from tests.integration.test_events_registry import Clock, Stack, _count, _stack
from tests.support.net import eventually

pytestmark = pytest.mark.registry

EVENTS_V1 = "application/vnd.docker.distribution.events.v1+json"
OCI = "application/vnd.oci.image.manifest.v1+json"
FAR = "2999-01-01T00:00:00Z"


@pytest.fixture
async def stored_only(database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """Registry -> webhook; events are stored and processed by the test itself."""
    async for item in _stack(database_url, tmp_path, background=False):
        yield item


async def forge(stack: Stack, repository: str, tag: str, digest: str, timestamp: str) -> None:
    """Post a push event the registry never sent, with the webhook's token."""
    event = {
        "id": str(uuid.uuid4()),
        "timestamp": timestamp,
        "action": "push",
        "target": {
            "mediaType": OCI,
            "size": 400,
            "digest": digest,
            "repository": repository,
            "tag": tag,
        },
        "request": {"method": "PUT", "useragent": "curl/8"},
        "actor": {"name": "mallory"},
    }
    url = f"http://127.0.0.1:{stack.settings.server.port}/v2/webhooks/events"
    headers = {"Content-Type": EVENTS_V1, "Authorization": f"Bearer {TOKEN}"}
    body = io.BytesIO(json.dumps({"events": [event]}).encode())
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        assert r.status < 300, await r.text()


async def drain(processor: EventProcessor) -> None:
    for _ in range(50):
        if (await processor.run_batch()).claimed == 0:
            return
    raise AssertionError("the queue never drained")


async def digest_of(stack: Stack, repository: str, tag: str) -> str | None:
    found = await stack.index()
    return found.get(repository, {}).get(tag, {}).get("digest")


async def sync(stack: Stack) -> None:
    async with RegistryClient(stack.settings.registry) as client:
        await SyncRun(stack.db, client, SyncOptions()).run()


async def settle(stack: Stack, fresh: int) -> None:
    """Wait for the registry's (or our) notifications to be stored."""
    await eventually(lambda: _count(stack.events("fresh"), fresh))


async def test_an_event_dated_2999_never_pins_a_tag(stored_only: Stack) -> None:
    stack = stored_only
    for name, content in (("2.0", b"y"), ("1.0", b"x")):
        image, _ = stack.layout.image({"v": content})
        stack.layout.tag(image, name)
    y = await stack.push("2.0", "team/app")
    x = await stack.push("1.0", "team/app")
    await settle(stack, 2)
    async with RegistryClient(stack.settings.registry) as client:
        processor = EventProcessor(stack.db, client, stack.settings.background.events, worker="w")
        await drain(processor)
        assert await digest_of(stack, "team/app", "1.0") == x

        await forge(stack, "team/app", "1.0", y, FAR)  # y is in team/app: the move is real
        await settle(stack, 1)
        await drain(processor)
        assert await digest_of(stack, "team/app", "1.0") == y

        # A real push afterwards wins, whatever the forged event's date.
        z_image, _ = stack.layout.image({"v": b"z"})
        stack.layout.tag(z_image, "1.0")
        z = await stack.push("1.0", "team/app")
        await settle(stack, 1)
        await drain(processor)
        assert await digest_of(stack, "team/app", "1.0") == z

        # Pinned again, then the sync sees the registry disagree: the walk wins.
        await forge(stack, "team/app", "1.0", y, FAR)
        await settle(stack, 1)
        await drain(processor)
        assert await digest_of(stack, "team/app", "1.0") == y
    await sync(stack)
    assert await digest_of(stack, "team/app", "1.0") == z

    # A row written with a future source time (before times were bounded) is corrected too.
    async with stack.db.write() as session:
        await session.execute(
            update(Tag)
            .where(Tag.name == "1.0")
            .values(digest=y, source_at=datetime(2999, 1, 1, tzinfo=UTC), source_seq=None)
        )
    await sync(stack)
    assert await digest_of(stack, "team/app", "1.0") == z


async def test_a_forged_push_naming_another_repository_is_not_indexed(stored_only: Stack) -> None:
    stack = stored_only
    image, _ = stack.layout.image({"v": b"only in team/app"})
    stack.layout.tag(image, "1.0")
    digest = await stack.push("1.0", "team/app")
    await settle(stack, 1)
    settings = stack.settings.background.events
    clock = Clock()
    async with RegistryClient(stack.settings.registry) as client:
        processor = EventProcessor(stack.db, client, settings, worker="w", clock=clock)
        await drain(processor)
        assert await digest_of(stack, "team/app", "1.0") == digest

        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        await forge(stack, "other/x", "1.0", digest, now)
        await settle(stack, 1)
        for _ in range(settings.not_found_retries + 2):
            clock.advance(seconds=settings.not_found_delay + 1)
            await processor.run_batch()
    assert set(await stack.index()) == {"team/app"}
    async with stack.db.read() as session:
        names = (await session.scalars(select(Repository.name))).all()
    assert list(names) == ["team/app"]
    assert not await stack.events("fresh")


async def test_a_late_push_event_completes_what_the_sync_found(stored_only: Stack) -> None:
    stack = stored_only
    image, _ = stack.layout.image({"v": b"late"})
    stack.layout.tag(image, "1.0")
    digest = await stack.push("1.0", "team/app")
    await settle(stack, 1)  # queued, not processed: Portside's events task was down
    await sync(stack)
    synced = (await stack.index())["team/app"]["1.0"]
    assert synced["digest"] == digest and synced["pushed_at"] is None
    await forge(stack, "team/app", "1.0", digest, "2026-01-01T00:00:00Z")  # an actor, later
    await settle(stack, 2)
    async with RegistryClient(stack.settings.registry) as client:
        processor = EventProcessor(stack.db, client, stack.settings.background.events, worker="w")
        await drain(processor)
    tag = (await stack.index())["team/app"]["1.0"]
    assert tag["digest"] == digest
    assert tag["pushed_at"] is not None
    assert tag["author"] == "mallory"  # the registry's own event had no actor: the next one's
    assert len(await stack.activities("tag.push")) == 1  # the sync's; the late events moved nothing


async def scan_states(stack: Stack) -> dict[str, str]:
    async with stack.db.read() as session:
        rows = await session.execute(select(Tag.name, Tag.scan_state))
        return {name: state for name, state in rows.all()}


async def scan_done(stack: Stack) -> None:
    """Scan every tagged digest (the scan's result is not the point: its state is)."""
    now = datetime.now(UTC)
    async with stack.db.write() as session:
        await scan_queue.enqueue_new(session, now)
        targets = await scan_queue.claim(
            session, worker="s", now=now, limit=100, lease=timedelta(minutes=5), max_attempts=3
        )
        for target in targets:
            await scan_queue.complete(
                session,
                target.id,
                worker="s",
                now=now,
                os=None,
                packages=[],
                findings=[],
                counts={},
            )


async def test_a_retag_shows_its_digests_scan(stored_only: Stack) -> None:
    stack = stored_only
    scanned, _ = stack.layout.image({"v": b"scanned"})
    other, _ = stack.layout.image({"v": b"other"})
    stack.layout.tag(scanned, "1.0")
    stack.layout.tag(other, "moving")
    await stack.push("1.0", "team/app")
    await stack.push("moving", "team/app")
    await settle(stack, 2)
    settings = stack.settings.background.events
    async with RegistryClient(stack.settings.registry) as client:
        processor = EventProcessor(stack.db, client, settings, worker="w")
        await drain(processor)
        await scan_done(stack)
        assert await scan_states(stack) == {"1.0": "done", "moving": "done"}

        stack.layout.tag(scanned, "latest")  # a new tag on the scanned digest
        stack.layout.tag(scanned, "moving")  # a tag moved onto it
        await stack.push("latest", "team/app")
        await stack.push("moving", "team/app")
        await settle(stack, 2)
        await drain(processor)
        assert await scan_states(stack) == {"1.0": "done", "latest": "done", "moving": "done"}

        # The sync finds a tag the events have not told yet: it shows the scan too.
        stack.layout.tag(scanned, "synced")
        await stack.push("synced", "team/app")
        await settle(stack, 1)
        await sync(stack)
        assert (await scan_states(stack))["synced"] == "done"
