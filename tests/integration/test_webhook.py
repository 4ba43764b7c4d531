"""The webhook endpoint through a real uvicorn server, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import func, select

from portside.api.app import create_app
from portside.db.engine import Database
from portside.db.models import RegistryEvent
from tests.integration.conftest import TOKEN, make_settings, serving

EVENTS_V1 = "application/vnd.docker.distribution.events.v1+json"
OCI = "application/vnd.oci.image.manifest.v1+json"


def push_event(**target: object) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "timestamp": "2026-11-27T08:49:19.209636693Z",
        "action": "push",
        "target": {
            "mediaType": OCI,
            "size": 411,
            "digest": "sha256:" + "a" * 64,
            "repository": "ns/app",
            "tag": "1.0",
            **target,
        },
        "request": {"method": "PUT", "useragent": "skopeo/1.9.3"},
        "actor": {"name": "alice"},
    }


@pytest.fixture
async def webhook(database_url: str) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    settings = make_settings(database_url)
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        yield base + "/v2/webhooks/events", http


async def stored(database_url: str) -> int:
    async with Database(database_url) as db, db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(RegistryEvent)) or 0)


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes | dict[str, object],
    *,
    token: str | None = TOKEN,
    content_type: str = EVENTS_V1,
) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with http.post(url, data=io.BytesIO(data), headers=headers) as resp:
        return resp.status, await resp.json()


async def test_a_push_is_stored_once(
    webhook: tuple[str, aiohttp.ClientSession], database_url: str
) -> None:
    url, http = webhook
    envelope = {"events": [push_event()]}
    status, answer = await post(http, url, envelope)
    assert (status, answer["stored"]) == (202, 1)
    # The registry re-sends an event it thinks was lost: stored once, still 202.
    status, answer = await post(http, url, envelope, content_type="application/json")
    assert (status, answer["stored"]) == (202, 0)
    assert await stored(database_url) == 1


async def test_irrelevant_envelopes_are_accepted_and_counted(
    webhook: tuple[str, aiohttp.ClientSession], database_url: str
) -> None:
    url, http = webhook
    blob = push_event(mediaType="application/octet-stream")
    own_pull = dict(
        push_event(), action="pull", request={"method": "HEAD", "useragent": "portside/0.1.0"}
    )
    status, answer = await post(http, url, {"events": [blob, own_pull]})
    assert status == 202
    assert answer == {"received": 2, "stored": 0, "dropped": {"blob": 1, "own": 1}}
    status, _ = await post(http, url, {"events": []})
    assert status == 202
    assert await stored(database_url) == 0


@pytest.mark.parametrize(
    ("token", "body", "content_type", "status", "code"),
    [
        (None, {"events": [push_event()]}, EVENTS_V1, 401, "unauthorized"),
        ("wrong", {"events": [push_event()]}, EVENTS_V1, 401, "unauthorized"),
        (TOKEN, b"{not json", EVENTS_V1, 400, "invalid_envelope"),
        (TOKEN, {"evnts": []}, EVENTS_V1, 400, "invalid_envelope"),
        (TOKEN, {"events": [{"id": "x", "action": "push"}]}, EVENTS_V1, 400, "invalid_envelope"),
        (TOKEN, {"events": [push_event()]}, "text/plain", 415, "unsupported_media_type"),
        (TOKEN, b"[" + b" " * (10 * 1024 * 1024) + b"]", EVENTS_V1, 413, "too_large"),
    ],
    ids=["no-token", "bad-token", "not-json", "wrong-shape", "bad-event", "text-plain", "10MB"],
)
async def test_bad_input_is_refused_and_stores_nothing(
    webhook: tuple[str, aiohttp.ClientSession],
    database_url: str,
    token: str | None,
    body: bytes | dict[str, object],
    content_type: str,
    status: int,
    code: str,
) -> None:
    url, http = webhook
    got, answer = await post(http, url, body, token=token, content_type=content_type)
    assert got == status
    error = answer["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert error["message"]
    assert await stored(database_url) == 0


async def test_a_chunked_oversized_body_is_refused(
    webhook: tuple[str, aiohttp.ClientSession],
) -> None:
    url, http = webhook

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b" " * (512 * 1024)

    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": EVENTS_V1}
    async with http.post(url, data=chunks(), headers=headers) as resp:
        assert resp.status == 413


async def test_token_can_be_turned_off_explicitly(database_url: str) -> None:
    settings = make_settings(database_url, webhook={"tokens": [], "require_token": False})
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        status, _ = await post(
            http, base + "/v2/webhooks/events", {"events": [push_event()]}, token=None
        )
    assert status == 202


async def test_the_api_lists_stored_events(webhook: tuple[str, aiohttp.ClientSession]) -> None:
    url, http = webhook
    await post(http, url, {"events": [push_event(), push_event(tag="2.0")]})
    base = url.removesuffix("/v2/webhooks/events")
    async with http.get(base + "/api/v1/events", params={"status": "fresh"}) as resp:
        page = await resp.json()
    assert page["total"] == 2
    assert {item["tag"] for item in page["items"]} == {"1.0", "2.0"}
    async with http.get(base + "/api/v1/events", params={"status": "bogus"}) as resp:
        assert resp.status == 422
        assert (await resp.json())["error"]["code"] == "invalid_request"
    async with http.get(base + "/api/v1/status") as resp:
        status = await resp.json()
    events_task = next(t for t in status["tasks"] if t["name"] == "events")
    assert events_task["queue_depth"] == 2
    assert status["webhook"]["stored"] == 2
    async with http.get(base + "/healthz") as resp:
        assert resp.status == 200
    async with http.get(base + "/api/openapi.json") as resp:
        assert "/v2/webhooks/events" in (await resp.json())["paths"]
