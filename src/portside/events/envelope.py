"""The registry's notification envelope: parsing, validation and what to keep (pure functions).

A notification is ``{"events": [...]}``. Kept: pushes and pulls of manifests (every Docker and
OCI manifest and index type) and every delete. Dropped and counted: blob events (layer uploads,
mounts, blob pulls) and the pulls that Portside's own reads cause (a HEAD or GET of a manifest
makes the registry emit a pull).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from portside.errors import InvalidEnvelope
from portside.registry.mediatypes import is_manifest
from portside.timefmt import parse_rfc3339

CONTENT_TYPES = (
    "application/vnd.docker.distribution.events.v1+json",
    "application/vnd.docker.distribution.events.v2+json",
    "application/json",
)
ACTIONS = frozenset({"push", "pull", "delete", "mount"})


class Verdict(StrEnum):
    KEEP = "keep"
    BLOB = "blob"
    OWN = "own"  # caused by Portside's own requests
    IRRELEVANT = "irrelevant"


@dataclass(frozen=True)
class IncomingEvent:
    event_id: str
    action: str
    repository: str
    tag: str | None
    digest: str | None
    media_type: str | None
    actor: str | None
    user_agent: str | None
    occurred_at: datetime
    data: dict[str, Any]


def parse_timestamp(value: object, default: datetime) -> datetime:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError("timestamp is not a string")
    return parse_rfc3339(value)


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def _event(raw: object, index: int, now: datetime) -> IncomingEvent:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise InvalidEnvelope(f"{where} is not an object")
    try:
        event_id = _str(raw, "id")
        action = _str(raw, "action")
        target = raw.get("target")
        if not event_id:
            raise ValueError("id is missing")
        if action not in ACTIONS:
            raise ValueError(f"action {action!r} is not one of push, pull, delete, mount")
        if not isinstance(target, dict):
            raise ValueError("target is missing or not an object")
        repository = _str(target, "repository")
        if not repository:
            raise ValueError("target.repository is missing")
        actor = raw.get("actor") if isinstance(raw.get("actor"), dict) else {}
        request = raw.get("request") if isinstance(raw.get("request"), dict) else {}
        assert isinstance(actor, dict)
        assert isinstance(request, dict)
        return IncomingEvent(
            event_id=event_id,
            action=action,
            repository=repository,
            tag=_str(target, "tag"),
            digest=_str(target, "digest"),
            media_type=_str(target, "mediaType"),
            actor=_str(actor, "name"),
            user_agent=_str(request, "useragent"),
            occurred_at=parse_timestamp(raw.get("timestamp"), now),
            data=raw,
        )
    except ValueError as exc:
        raise InvalidEnvelope(f"{where}: {exc}") from exc


def parse_envelope(body: bytes, now: datetime) -> list[IncomingEvent]:
    """Parse and validate a whole envelope; any wrong part refuses all of it."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEnvelope(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidEnvelope("body is JSON nested too deeply") from exc
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise InvalidEnvelope('body is not an envelope of the form {"events": [...]}')
    return [_event(raw, i, now) for i, raw in enumerate(data["events"])]


def classify(event: IncomingEvent, own_user_agent: str, own_actor: str | None) -> Verdict:
    """Decide whether an event is kept for processing."""
    if event.action == "delete":
        return Verdict.KEEP
    if event.action == "mount" or not is_manifest(event.media_type):
        return Verdict.BLOB
    if event.action == "pull":
        agent = event.user_agent or ""
        product = own_user_agent.split("/", 1)[0] + "/"
        if agent.startswith(product) or (own_actor and event.actor == own_actor):
            return Verdict.OWN
    if event.action in ("push", "pull"):
        return Verdict.KEEP
    return Verdict.IRRELEVANT
