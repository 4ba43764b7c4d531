"""``POST /v2/webhooks/events``: the registry's notifications, stored, never processed here.

The path is Portus's, so registry configurations written for Portus keep working. Every
authenticated, well-formed envelope gets a 2xx, even when nothing in it is kept: the registry
retries a refused notification forever and holds back every event queued behind it.

This is the hot path: :class:`WebhookFastPath`, a plain ASGI middleware, answers it before
FastAPI's routing and dependency injection; the FastAPI route documents it in the OpenAPI
document and serves it when the middleware is not installed. Both call :func:`accept`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portside import USER_AGENT
from portside.api.deps import ServicesDep
from portside.api.errors import error_body
from portside.api.schemas import WebhookAnswer
from portside.errors import InvalidEnvelope, StorageError, WebhookError, WebhookUnauthorized
from portside.events.envelope import (
    CONTENT_TYPES,
    Reason,
    Refusal,
    Verdict,
    classify,
    parse_envelope,
)
from portside.events.ingest import STORE_FAILED
from portside.events.queue import event_row
from portside.registry.config import WEBHOOK_PATH
from portside.services import Services
from portside.web.access import token_matches
from portside.web.clients import client_address

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhook"])


def authorized(header: str | None, tokens: list[str]) -> bool:
    """Constant-time match of ``Authorization: Bearer <token>`` (or the bare token)."""
    return token_matches(header, tokens)


async def read_body(chunks: AsyncIterator[bytes], length: str | None, limit: int) -> bytes:
    if length is not None and length.isdigit() and int(length) > limit:
        raise InvalidEnvelope(
            f"body of {length} bytes is over the limit of {limit}", status_code=413
        )
    parts, total = [], 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise InvalidEnvelope(f"body is over the limit of {limit} bytes", status_code=413)
        parts.append(chunk)
    return b"".join(parts)


def check_content_type(value: str | None) -> None:
    if not value:
        return
    base = value.split(";", 1)[0].strip().lower()
    if base not in CONTENT_TYPES and not base.endswith("+json"):
        raise InvalidEnvelope(
            f"content type {base!r} is not a notification envelope "
            "(application/vnd.docker.distribution.events.v1+json or application/json)",
            status_code=415,
        )


MAX_LISTED_REFUSALS = 100


def log_refusal(refusal: Refusal, client: str) -> None:
    """One line per refused event, with structured fields (the id shown with repr: no control
    characters reach the log)."""
    log.warning(
        "webhook: refused event %d %r from %s: %s (%s)",
        refusal.index,
        refusal.event_id,
        client,
        refusal.reason.value,
        refusal.detail,
        extra={
            "event_index": refusal.index,
            "event_id": refusal.event_id,
            "reason": refusal.reason.value,
            "client": client,
        },
    )


async def accept(
    services: Services, headers: Mapping[str, str], chunks: AsyncIterator[bytes], client: str = "?"
) -> tuple[int, dict[str, Any]]:
    """Check, parse and store one notification; (status, JSON answer). Raises WebhookError."""
    settings = services.settings.notifications
    if settings.require_token and not authorized(
        headers.get("authorization"), services.webhook_tokens
    ):
        raise WebhookUnauthorized("missing or wrong token in the Authorization header")
    check_content_type(headers.get("content-type"))
    body = await read_body(chunks, headers.get("content-length"), settings.max_body)
    now = datetime.now(UTC)
    envelope = parse_envelope(body, now, max_skew=timedelta(seconds=settings.max_clock_skew))
    assert services.ingestor is not None
    stats = services.ingestor.stats
    stats.received += len(envelope.events) + len(envelope.refused)
    refused = list(envelope.refused)
    if envelope.clamped:
        stats.clamped += envelope.clamped
        log.warning(
            "webhook: %d event timestamps from %s were ahead of this clock; recorded as %s",
            envelope.clamped,
            client,
            now.isoformat(),
            extra={"clamped": envelope.clamped, "client": client},
        )
    own_actor = services.settings.registry.username or None
    rows: list[dict[str, object]] = []
    positions: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for event in envelope.events:
        verdict = classify(event, USER_AGENT, own_actor)
        if verdict is Verdict.KEEP:
            rows.append(event_row(event, now))
            positions.setdefault(event.event_id, event.position)
        else:
            dropped[verdict.value] = dropped.get(verdict.value, 0) + 1
            stats.drop(verdict.value)
    try:
        stored = await services.ingestor.submit(rows)
    except StorageError as exc:
        log.error("webhook: could not store %d events from %s: %s", len(rows), client, exc)
        return 503, error_body("storage_unavailable", STORE_FAILED)
    for event_id in stored.rejected:
        refused.append(
            Refusal(
                positions.get(event_id, -1), event_id, Reason.STORAGE, "the database refused it"
            )
        )
    for item in refused:
        stats.refuse(item.reason.value)
        if item.reason is not Reason.STORAGE:  # the ingestor logged those, with the error
            log_refusal(item, client)
    refused.sort(key=lambda r: r.index)
    return 202, {
        "received": len(envelope.events) + len(envelope.refused),
        "stored": stored.new,
        "dropped": dropped,
        "refused": len(refused),
        "refusals": [
            {"index": r.index, "reason": r.reason.value} for r in refused[:MAX_LISTED_REFUSALS]
        ],
    }


def refusal(exc: WebhookError, client: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    log.warning("webhook: refused a notification from %s: %s", client, exc)
    code = {401: "unauthorized", 413: "too_large", 415: "unsupported_media_type"}.get(
        exc.status_code, "invalid_envelope"
    )
    extra = (
        {"WWW-Authenticate": 'Bearer realm="portside-webhook"'} if exc.status_code == 401 else {}
    )
    return exc.status_code, error_body(code, str(exc)), extra


@router.post(
    WEBHOOK_PATH,
    status_code=202,
    response_model=WebhookAnswer,
    responses={401: {}, 400: {}, 413: {}, 415: {}, 503: {}},
    summary="Receive the registry's notifications",
)
async def receive_events(request: Request, services: ServicesDep) -> Response:
    client = client_address(request) or "?"
    try:
        status, answer = await accept(services, request.headers, request.stream(), client)
        headers: dict[str, str] = {}
    except WebhookError as exc:
        status, answer, headers = refusal(exc, client)
    return Response(
        json.dumps(answer), status_code=status, media_type="application/json", headers=headers
    )


class WebhookFastPath:
    """ASGI middleware answering ``POST /v2/webhooks/events`` before FastAPI's routing."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].state.services
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        extra: dict[str, str] = {}
        peer = scope.get("client")
        client = str(peer[0]) if peer else "?"
        try:
            status, answer = await accept(services, headers, chunks(), client)
        except WebhookError as exc:
            status, answer, extra = refusal(exc, client)
        body = json.dumps(answer).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in extra.items()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})
