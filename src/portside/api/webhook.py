"""``POST /v2/webhooks/events``: the registry's notifications, stored, never processed here.

The path is Portus's, so registry configurations written for Portus keep working. Every
authenticated, well-formed envelope gets a 2xx, even when nothing in it is kept: the registry
retries a refused notification forever and holds back every event queued behind it.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from portside import USER_AGENT
from portside.api.deps import ServicesDep
from portside.api.schemas import WebhookAnswer
from portside.errors import InvalidEnvelope, StorageError, WebhookUnauthorized
from portside.events.envelope import CONTENT_TYPES, Verdict, classify, parse_envelope
from portside.events.queue import event_row

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhook"])


def authorized(header: str | None, tokens: list[str]) -> bool:
    """Constant-time match of ``Authorization: Bearer <token>`` (or the bare token)."""
    if not header:
        return False
    offered = header.strip()
    if offered[:7].lower() == "bearer ":
        offered = offered[7:].strip()
    offered_bytes = offered.encode()
    found = False
    for token in tokens:
        # Compare against every token, so the time taken does not tell which one matched.
        found |= hmac.compare_digest(offered_bytes, token.encode())
    return found


async def read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise InvalidEnvelope(
            f"body of {length} bytes is over the limit of {limit}", status_code=413
        )
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise InvalidEnvelope(f"body is over the limit of {limit} bytes", status_code=413)
        chunks.append(chunk)
    return b"".join(chunks)


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


@router.post(
    "/v2/webhooks/events",
    status_code=202,
    response_model=WebhookAnswer,
    responses={401: {}, 400: {}, 413: {}, 415: {}, 503: {}},
    summary="Receive the registry's notifications",
)
async def receive_events(request: Request, services: ServicesDep) -> Response:
    settings = services.settings.webhook
    if settings.require_token and not authorized(
        request.headers.get("authorization"), services.webhook_tokens
    ):
        raise WebhookUnauthorized("missing or wrong token in the Authorization header")
    check_content_type(request.headers.get("content-type"))
    body = await read_body(request, settings.max_body)
    now = datetime.now(UTC)
    events = parse_envelope(body, now)
    assert services.ingestor is not None
    stats = services.ingestor.stats
    stats.received += len(events)
    own_actor = services.settings.registry.username or None
    rows: list[dict[str, object]] = []
    dropped: dict[str, int] = {}
    for event in events:
        verdict = classify(event, USER_AGENT, own_actor)
        if verdict is Verdict.KEEP:
            rows.append(event_row(event, now))
        else:
            dropped[verdict.value] = dropped.get(verdict.value, 0) + 1
            stats.drop(verdict.value)
    try:
        stored = await services.ingestor.submit(rows)
    except StorageError as exc:
        log.error("webhook: could not store %d events: %s", len(rows), exc)
        return Response(
            json.dumps({"error": {"code": "storage_unavailable", "message": str(exc)}}),
            status_code=503,
            media_type="application/json",
        )
    answer = {"received": len(events), "stored": stored, "dropped": dropped}
    return Response(json.dumps(answer), status_code=202, media_type="application/json")
