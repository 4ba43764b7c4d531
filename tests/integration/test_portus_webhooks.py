"""A webhook brought from Portus is sent the way Portus sent it: its method, content type,
basic auth and extra headers (to a receiver the test runs), besides Portside's own headers."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web

from portside.db.engine import Database
from portside.index import store
from portside.index.vocabulary import ActivityKind
from portside.outgoing import store as webhooks
from portside.outgoing.task import WebhooksTask
from portside.settings import OutgoingTaskSettings
from tests.support.net import free_port


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[web.Request], list[bytes]]]:
    seen: list[web.Request] = []
    bodies: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request)
        bodies.append(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook", seen, bodies
    finally:
        await runner.cleanup()


async def test_a_portus_webhook_keeps_its_method_auth_and_headers(
    db: Database, receiver: tuple[str, list[web.Request], list[bytes]]
) -> None:
    url, seen, bodies = receiver
    now = datetime.now(UTC)
    async with db.write() as session:
        hook = await webhooks.add(
            session,
            name="portus/platform/deploys",
            url=url,
            secret="s",
            namespaces="platform",
            kinds=["push"],
            now=now,
        )
        hook.method = "GET"
        hook.content_type = "application/x-www-form-urlencoded"
        hook.username, hook.password = "hook", "hook secret"
        hook.headers = {"X-Team": "platform", "X-Portside-Event": "not ours to set"}
    task = WebhooksTask(db, OutgoingTaskSettings(timeout=5), [])
    await task.run_once()  # starts after the activities that exist already
    async with db.write() as session:
        store.record(
            session,
            ActivityKind.TAG_PUSH,
            now,
            actor="ann",
            repository="platform/app",
            tag="1.0",
            digest="sha256:a",
        )
    for _ in range(20):
        await task.run_once()
        if seen:
            break
        await asyncio.sleep(0.05)
    assert len(seen) == 1
    request = seen[0]
    assert request.method == "GET"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"hook:hook secret").decode()
    )
    assert request.headers["X-Team"] == "platform"
    assert request.headers["X-Portside-Event"] == "push"
    assert b'"repository": "platform/app"' in bodies[0]
