"""Outgoing webhooks to receivers the tests run: signed deliveries, filters by namespace and
kind, a receiver that fails then recovers, one that times out; the delivery log."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from sqlalchemy import select

from portside.db.engine import Database
from portside.db.models import WebhookDelivery
from portside.index import store
from portside.index.vocabulary import ActivityKind
from portside.outgoing.task import WebhooksTask
from portside.settings import OutgoingTaskSettings, OutgoingWebhookSettings
from tests.support.net import free_port

SECRET = "receiver-secret"


class Receiver:
    def __init__(self, fail_first: int = 0, delay: float = 0.0):
        self.fail_first = fail_first
        self.delay = delay
        self.calls = 0
        self.received: list[dict[str, object]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["X-Portside-Signature-256"], expected)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.calls <= self.fail_first:
            return web.Response(status=500, text="down for maintenance")
        self.received.append({"event": request.headers["X-Portside-Event"], **json.loads(body)})
        return web.Response(status=204)


@pytest.fixture
async def receivers() -> AsyncIterator[dict[str, Receiver]]:
    found = {"ok": Receiver(), "flaky": Receiver(fail_first=2), "slow": Receiver(delay=2.0)}
    app = web.Application()
    for name, receiver in found.items():
        app.router.add_post(f"/{name}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    for name, receiver in found.items():
        receiver.url = f"http://127.0.0.1:{port}/{name}"
    try:
        yield found
    finally:
        await runner.cleanup()


def hook(name: str, url: str, **options: object) -> OutgoingWebhookSettings:
    return OutgoingWebhookSettings(name=name, url=url, secret=SECRET, **options)  # type: ignore[arg-type]


async def test_deliveries_are_signed_filtered_retried_and_logged(
    db: Database, receivers: dict[str, Receiver]
) -> None:
    configured = [
        hook("ok", receivers["ok"].url, namespaces="ns", kinds=["push", "delete"]),
        hook("flaky", receivers["flaky"].url, kinds=["push"]),
        hook("slow", receivers["slow"].url, kinds=["push"]),
    ]
    settings = OutgoingTaskSettings(
        timeout=0.5, backoff_base=0.01, backoff_max=0.05, max_attempts=3
    )
    task = WebhooksTask(db, settings, configured)
    await task.run_once()  # starts after the activities that exist already
    now = datetime.now(UTC)
    async with db.write() as session:
        store.record(
            session,
            ActivityKind.TAG_PUSH,
            now,
            actor="alice",
            repository="ns/app",
            tag="1.0",
            digest="sha256:a",
        )
        store.record(
            session,
            ActivityKind.TAG_PUSH,
            now,
            actor="bob",
            repository="other/app",
            tag="2.0",
            digest="sha256:b",
        )
        store.record(
            session,
            ActivityKind.TAG_DELETE,
            now,
            actor="alice",
            repository="ns/app",
            tag="0.9",
            digest="sha256:c",
        )
        store.record(
            session, ActivityKind.REPOSITORY_CREATE, now, actor="alice", repository="ns/app"
        )

    for _ in range(40):
        run = await task.run_once()
        if not run.more:
            await asyncio.sleep(0.06)
        async with db.read() as session:
            pending = (
                await session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.status == "pending")
                )
            ).all()
        if not pending:
            break

    # "ok" takes ns/* pushes and deletes only: not other/app, not repository.create.
    assert [(r["event"], r["repository"], r["tag"]) for r in receivers["ok"].received] == [
        ("push", "ns/app", "1.0"),
        ("delete", "ns/app", "0.9"),
    ]
    # "flaky" failed twice, then took both pushes.
    assert sorted(r["repository"] for r in receivers["flaky"].received) == ["ns/app", "other/app"]
    async with db.read() as session:
        log = {
            (d.webhook_id, d.activity_id): d
            for d in (await session.scalars(select(WebhookDelivery))).all()
        }
    statuses = sorted((d.status, d.attempts) for d in log.values())
    # slow: timed out on every attempt -> failed after max_attempts, with the error kept.
    failed = [d for d in log.values() if d.status == "failed"]
    assert len(failed) == 2
    assert all("Timeout" in (d.last_error or "") for d in failed)
    assert all(d.attempts == 3 for d in failed)
    flaky_attempts = sorted(
        d.attempts for d in log.values() if d.status == "done" and d.attempts > 1
    )
    assert flaky_attempts, statuses
