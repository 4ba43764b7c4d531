"""The webhook endpoint through a real uvicorn server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import func, select, text

from portside.app import create_app
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
    assert answer == {
        "received": 2,
        "stored": 0,
        "dropped": {"blob": 1, "own": 1},
        "refused": 0,
        "refusals": [],
    }
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
        (TOKEN, {"events": [push_event()]}, "text/plain", 415, "unsupported_media_type"),
        (TOKEN, b"[" + b" " * (10 * 1024 * 1024) + b"]", EVENTS_V1, 413, "too_large"),
    ],
    ids=["no-token", "bad-token", "not-json", "wrong-shape", "text-plain", "10MB"],
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
    settings = make_settings(database_url, notifications={"tokens": [], "require_token": False})
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


async def stored_events(database_url: str) -> list[RegistryEvent]:
    async with Database(database_url) as db, db.read() as session:
        return list((await session.scalars(select(RegistryEvent).order_by(RegistryEvent.id))).all())


async def test_an_invalid_name_is_refused_and_its_neighbours_stored(
    webhook: tuple[str, aiohttp.ClientSession], database_url: str
) -> None:
    url, http = webhook
    evil = push_event(repository="evil/../team/app")
    good = push_event()
    bad_tag = push_event(tag="1.0\n")
    bad_digest = push_event(digest="sha256:" + "A" * 64)
    status, answer = await post(http, url, {"events": [evil, good, bad_tag, bad_digest]})
    assert status == 202
    assert (answer["received"], answer["stored"], answer["refused"]) == (4, 1, 3)
    assert answer["refusals"] == [
        {"index": 0, "reason": "repository"},
        {"index": 2, "reason": "tag"},
        {"index": 3, "reason": "digest"},
    ]
    assert [(e.event_id, e.repository) for e in await stored_events(database_url)] == [
        (good["id"], "ns/app")
    ]
    base = url.removesuffix("/v2/webhooks/events")
    async with http.get(base + "/api/v1/status") as resp:
        webhook_status = (await resp.json())["webhook"]
    assert webhook_status["refused"] == {"repository": 1, "tag": 1, "digest": 1}
    async with http.get(base + "/metrics") as resp:
        metrics = await resp.text()
    assert 'portside_webhook_events_refused_total{reason="repository"} 1.0' in metrics


async def test_clocks_are_bounded_and_the_senders_order_kept(
    webhook: tuple[str, aiohttp.ClientSession], database_url: str
) -> None:
    url, http = webhook
    now = datetime.now(UTC)
    stamps = {
        "future": "2999-01-01T00:00:00Z",
        "hour-ago": (now - timedelta(hours=1)).isoformat(),
        "two-hours-ago": (now - timedelta(hours=2)).isoformat(),
        "year-one": "0001-01-01T00:00:00Z",
    }
    events = [dict(push_event(tag=tag), timestamp=stamp) for tag, stamp in stamps.items()]
    status, answer = await post(http, url, {"events": events})
    assert (status, answer["stored"], answer["refusals"]) == (
        202,
        3,
        [{"index": 3, "reason": "timestamp"}],
    )
    rows = await stored_events(database_url)
    # Stored in the order the registry sent them (the id), each with the time it arrived.
    assert [row.tag for row in rows] == ["future", "hour-ago", "two-hours-ago"]
    received = rows[0].received_at
    assert received.tzinfo is not None and abs(received - now) < timedelta(minutes=1)
    assert all(row.received_at == received for row in rows)
    assert rows[0].occurred_at == received  # 2999 clamped to the receive time
    assert rows[1].occurred_at < received
    base = url.removesuffix("/v2/webhooks/events")
    async with http.get(base + "/api/v1/status") as resp:
        assert (await resp.json())["webhook"]["clamped"] == 1


def poisoned_event() -> list[dict[str, object]]:
    """Each of what the database refused in one group commit before (issue 10, item 3)."""
    year_one = dict(push_event(), timestamp="0001-01-01T00:00:00+01:00")
    nul = dict(push_event(), actor={"name": "al\x00ice"})
    long_actor = dict(push_event(), actor={"name": "a" * 300})
    surrogate = dict(push_event(), request={"useragent": "\ud800"})
    return [year_one, nul, long_actor, surrogate]


async def test_a_poisoned_request_never_fails_its_neighbours(
    webhook: tuple[str, aiohttp.ClientSession], database_url: str
) -> None:
    url, http = webhook
    goods = [{"events": [push_event(tag=f"v{i}"), push_event(tag=f"w{i}")]} for i in range(40)]
    good_in_poisoned = push_event(tag="neighbour")
    poisoned = {"events": [*poisoned_event(), good_in_poisoned]}
    nan = json.dumps({"events": [push_event(tag="nan-neighbour"), "NAN"]}).encode()
    nan = nan.replace(b'"NAN"', b'{"id": "nan", "action": "push", "size": NaN}')
    bodies: list[bytes | dict[str, object]] = [*goods[:20], poisoned, nan, *goods[20:]]
    answers = await asyncio.gather(*(post(http, url, body) for body in bodies))
    for body, (status, answer) in zip(bodies, answers, strict=True):
        assert status == 202, answer
        text = json.dumps(answer).lower()
        assert "insert" not in text and "sql" not in text
        if body is poisoned:
            assert (answer["stored"], answer["refused"]) == (1, 4)
        elif body is nan:
            assert (answer["stored"], answer["refused"]) == (1, 1)
        else:
            assert (answer["stored"], answer["refused"]) == (2, 0)
    tags = {row.tag for row in await stored_events(database_url)}
    assert tags == {f"{c}{i}" for c in "vw" for i in range(40)} | {"neighbour", "nan-neighbour"}


async def test_a_storage_failure_answers_503_without_sql(
    webhook: tuple[str, aiohttp.ClientSession], database_url: str
) -> None:
    """The table is renamed away under the running server: a real failure of every write."""
    url, http = webhook
    async with Database(database_url) as db, db.write() as session:
        await session.execute(text("ALTER TABLE registry_events RENAME TO registry_events_gone"))
    event = push_event()
    status, answer = await post(http, url, {"events": [event]})
    assert status == 503
    assert answer["error"]["code"] == "storage_unavailable"  # type: ignore[index]
    text_of = json.dumps(answer)
    assert "registry_events" not in text_of and "INSERT" not in text_of
    assert event["id"] not in text_of
