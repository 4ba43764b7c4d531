"""Hostile input at the API's edge, through a real server on both databases: bodies read only
after the token and bounded, deep JSON, NUL and huge integers anywhere, the Host allow-list,
credentials and secrets never shown."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from portside.app import create_app
from portside.background import state
from portside.db.engine import Database
from tests.integration.conftest import TOKEN, make_settings, serving

ADMIN = "admin-s3cret"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
HUGE = 10**30
DEEP = b"[" * 50_000 + b"]" * 50_000  # 100 kB, far under every body limit


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    settings = make_settings(database_url, api={"admin_tokens": [ADMIN]})
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        yield base, http


async def raw_exchange(base: str, head: str, body_sent: int) -> tuple[bytes, int]:
    """Send ``head`` and up to ``body_sent`` bytes of body, then read the answer's first
    line; (that line, bytes of body sent before it came)."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode())
        sent = 0
        chunk = b"x" * 65536
        answer = asyncio.ensure_future(reader.readline())
        while sent < body_sent and not answer.done():
            writer.write(chunk)
            sent += len(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except (ConnectionError, TimeoutError):
                break
            await asyncio.sleep(0)
        return await asyncio.wait_for(answer, 5), sent
    finally:
        writer.close()


async def test_a_big_body_without_the_token_is_refused_before_it_is_read(
    server: tuple[str, aiohttp.ClientSession],
) -> None:
    """A 300 MB body announced: the 401 comes after the headers, with 64 kB sent, not after
    the body (which was read whole into memory before)."""
    base, _ = server
    head = (
        "POST /api/v1/rescan HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
    )
    line, sent = await raw_exchange(base, head, body_sent=65536)
    assert line.startswith(b"HTTP/1.1 401"), line
    assert sent <= 65536


async def test_a_body_over_api_max_body_is_413_with_the_token(
    server: tuple[str, aiohttp.ClientSession],
) -> None:
    base, http = server
    big = json.dumps({"tag_id": 1, "pad": "x" * (2 * 1024 * 1024)}).encode()
    async with http.post(f"{base}/api/v1/rescan", data=io.BytesIO(big), headers=AUTH) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(64):
            yield b" " * 65536

    async with http.post(f"{base}/api/v1/rescan", data=chunks(), headers=AUTH) as resp:
        assert resp.status == 413
    async with http.post(f"{base}/api/v1/rescan", json={}, headers=AUTH) as resp:
        assert resp.status == 202  # a small body still goes through


async def test_deeply_nested_json_is_400_on_the_api_and_the_webhook(
    server: tuple[str, aiohttp.ClientSession],
) -> None:
    base, http = server
    json_type = {"Content-Type": "application/json"}
    for path in ("/api/v1/rescan", "/api/v1/events/retry", "/api/v1/webhooks", "/api/v1/scans"):
        async with http.post(f"{base}{path}", data=DEEP, headers={**AUTH, **json_type}) as resp:
            assert resp.status in (400, 422), (path, resp.status)
    webhook = {"Authorization": f"Bearer {TOKEN}", **json_type}
    for body in (DEEP, b'{"events": ' + DEEP + b"}"):
        async with http.post(f"{base}/v2/webhooks/events", data=body, headers=webhook) as resp:
            assert resp.status == 400, resp.status


VALUES = [HUGE, -HUGE, "\x00", "a\x00b", [HUGE], {"x": "\x00"}]


def hostile_calls(document: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(method, path, query, JSON body) for every API operation of an OpenAPI document, each
    parameter and body field in turn set to each of :data:`VALUES`."""
    schemas = document["components"]["schemas"]
    for template, operations in document["paths"].items():
        if template.startswith("/v2/"):
            continue  # the registry's webhook: its own tests
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            filled = {p["name"]: "1" for p in params if p["in"] == "path"}
            for param, value in itertools.product(params, VALUES):
                text = quote(str(value), safe="")
                if param["in"] == "path":
                    yield method, template.format(**{**filled, param["name"]: text}), "", None
                elif param["in"] == "query":
                    yield method, template.format(**filled), f"{param['name']}={text}", None
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            fields = schemas[ref.rsplit("/", 1)[1]].get("properties", {}) if ref else {}
            for name, value in itertools.product(fields, VALUES):
                yield method, template.format(**filled), "", {name: value}
    for page, name in itertools.product(
        ("/", "/repositories", "/activities", "/events"), ("q", "page", "status", "repository")
    ):
        yield "get", page, f"{name}=%00", None
        yield "get", page, f"{name}={HUGE}", None


async def test_no_nul_or_huge_integer_anywhere_makes_a_5xx(database_url: str) -> None:
    """Every API route from the OpenAPI document, each parameter and body field in turn set
    to a NUL string or 10**30 (SQLite and PostgreSQL overflow on it), with the admin token:
    always a 4xx. The web UI's pages with a NUL in their query too."""
    settings = make_settings(
        database_url,
        api={"admin_tokens": [ADMIN]},
        registry={"url": "http://127.0.0.1:9"},  # nothing listens: no reference may reach it
    )
    app = create_app(settings)
    calls = list(hostile_calls(app.openapi()))
    assert len(calls) > 100
    headers = {**AUTH, "Content-Type": "application/json"}
    async with serving(app, settings.server.port) as base, aiohttp.ClientSession() as http:
        for method, path, query, body in calls:
            url = f"{base}{path}{'?' + query if query else ''}"
            data = None if body is None else json.dumps(body)
            async with http.request(method, url, data=data, headers=headers) as resp:
                answer = await resp.read()
                assert resp.status < 500, (method, url, body, resp.status, answer[:300])


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 421),
        ("evil.example:8080", 421),
        ("127.0.0.1.evil.example", 421),
        ("localhost", 200),
        ("LOCALHOST:8080", 200),
        ("127.0.0.1:8080", 200),
        ("127.0.0.2", 200),
        ("[::1]:8080", 200),
    ],
)
async def test_open_reads_on_loopback_answer_loopback_host_names_only(
    database_url: str, host: str, status: int
) -> None:
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1."""
    settings = make_settings(database_url)
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        for path in ("/api/v1/repositories", "/"):
            async with http.get(f"{base}{path}", headers={"Host": host}) as resp:
                assert resp.status == status, (path, host)
        # The registry's webhook has its own token; it answers whatever name it is sent to.
        async with http.post(
            f"{base}/v2/webhooks/events",
            json={"events": []},
            headers={"Host": host, "Authorization": f"Bearer {TOKEN}"},
        ) as resp:
            assert resp.status == 202


async def test_allowed_hosts_setting(database_url: str) -> None:
    settings = make_settings(database_url, server={"allowed_hosts": ["portside.example"]})
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        for host, status in (("portside.example:80", 200), ("localhost", 421), ("x.y", 421)):
            async with http.get(f"{base}/api/v1/status", headers={"Host": host}) as resp:
                assert resp.status == status, host
    closed = make_settings(database_url, api={"admin_tokens": [ADMIN], "anonymous_reads": False})
    # Reads need a token here: a rebinding page has none, so any name is answered.
    async with (
        serving(create_app(closed), closed.server.port) as base,
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/v1/status", headers={"Host": "x.y", **AUTH}) as resp,
    ):
        assert resp.status == 200


async def test_status_never_shows_credentials_in_a_url(database_url: str) -> None:
    settings = make_settings(
        database_url,
        registry={"url": "http://reguser:hunter2@127.0.0.1:9"},
        api={"admin_tokens": [ADMIN]},
    )
    now = datetime.now(UTC)
    async with Database(database_url) as db, db.write() as session:
        await state.save(
            session,
            "sync",
            enabled=True,
            worker="w",
            started_at=now,
            finished_at=now,
            error="GET http://reguser:hunter2@127.0.0.1:9/v2/_catalog failed",
            next_run_at=None,
            runs=1,
            details={"source": "https://hook.example/x?token=tok3n&page=2"},
        )
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(f"{base}/api/v1/status") as resp:
            text = await resp.text()
        async with http.get(f"{base}/") as resp:
            page = await resp.text()
    status = json.loads(text)
    assert status["registry"] == "http://reguser:***@127.0.0.1:9"
    for shown in (text, page):
        assert "hunter2" not in shown
        assert "tok3n" not in shown
    assert "page=2" in text


async def test_webhook_secrets_are_never_read_back(
    server: tuple[str, aiohttp.ClientSession],
) -> None:
    base, http = server
    body = {
        "name": "ci",
        "url": "https://ci:pa55word@hooks.example/notify?token=t0ken&team=ops",
        "secret": "the-hmac-s3cret",
        "kinds": ["push"],
    }
    async with http.post(f"{base}/api/v1/webhooks", json=body, headers=AUTH) as resp:
        assert resp.status == 201
        created = await resp.json()
    async with http.get(f"{base}/api/v1/webhooks", headers=AUTH) as resp:
        listed = await resp.json()
    async with http.get(f"{base}/api/v1/webhooks/{created['id']}", headers=AUTH) as resp:
        assert resp.status == 200
        detail = await resp.json()
    for shown in (created, *listed, detail):
        text = json.dumps(shown)
        for secret in ("the-hmac-s3cret", "pa55word", "t0ken"):
            assert secret not in text
        assert shown["has_secret"] is True
        assert shown["url"] == "https://ci:***@hooks.example/notify?token=***&team=ops"
    for wrong in ({"secret": "x" * 256}, {"name": "a\x00b"}, {"url": "http://h/" + "a" * 2048}):
        async with http.post(
            f"{base}/api/v1/webhooks", json={**body, "name": "other", **wrong}, headers=AUTH
        ) as resp:
            assert resp.status == 422, wrong
