"""The registry's notification envelope: parsing, validation and what to keep (pure functions).

A notification is ``{"events": [...]}``. A body that is not JSON or not of that shape is refused
whole (:class:`InvalidEnvelope`, a 4xx). Inside a well-formed envelope each event stands alone:
one that the index must not take (a repository, tag or digest outside the distribution grammar,
a field longer than its column, NUL, lone surrogates or control characters, NaN or Infinity, a
timestamp before 2000 or unreadable, a missing id or target) is *refused*, with a reason, and
its neighbours are kept: the registry re-sends a refused notification for ever and holds back
every event queued behind it, so an envelope is never refused for one bad event.

A timestamp more than ``max_skew`` ahead of the receiving clock is clamped to the receive time:
a sender's clock must not outrank what the registry says later.

Of the valid events, kept: pushes and pulls of manifests (every Docker and OCI manifest and
index type) and every delete. Dropped and counted: blob events (layer uploads, mounts, blob
pulls) and the pulls that Portside's own reads cause (a HEAD or GET of a manifest makes the
registry emit a pull).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from portside.errors import InvalidEnvelope, WebhookError
from portside.index.names import (
    MAX_REPOSITORY,
    is_valid_digest,
    is_valid_repository,
    is_valid_tag,
)
from portside.registry.mediatypes import is_manifest
from portside.timefmt import parse_rfc3339

CONTENT_TYPES = (
    "application/vnd.docker.distribution.events.v1+json",
    "application/vnd.docker.distribution.events.v2+json",
    "application/json",
)
ACTIONS = frozenset({"push", "pull", "delete", "mount"})
DEFAULT_MAX_SKEW = timedelta(minutes=5)
MIN_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
# The sizes of the registry_events columns an event fills (a unit test holds them to the models).
MAX_LENGTHS = {
    "event_id": 128,
    "repository": MAX_REPOSITORY,
    "tag": 128,
    "digest": 128,
    "media_type": 255,
    "actor": 255,
}
_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")
_ESCAPED_NUL_OR_SURROGATE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class Verdict(StrEnum):
    KEEP = "keep"
    BLOB = "blob"
    OWN = "own"  # caused by Portside's own requests
    IRRELEVANT = "irrelevant"


class Reason(StrEnum):
    """Why an event was refused (the label of the refused counters)."""

    MALFORMED = "malformed"  # not an object; id, action or target missing or of a wrong type
    REPOSITORY = "repository"
    TAG = "tag"
    DIGEST = "digest"
    TIMESTAMP = "timestamp"
    TOO_LONG = "too_long"
    CHARACTERS = "characters"  # NUL, a lone surrogate, a control or bidi character
    NUMBER = "number"  # NaN or Infinity
    STORAGE = "storage"  # the database refused it after all (see events.ingest)


class Refused(WebhookError):
    """One event of a well-formed envelope that is not stored (its neighbours are)."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason = reason


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
    clamped: bool = False  # the sender's timestamp was too far ahead: occurred_at is receipt
    position: int = 0  # in its envelope (the order the registry sent)


@dataclass(frozen=True)
class Refusal:
    """One event not taken: its position in the envelope, its id as sent, why."""

    index: int
    event_id: str | None
    reason: Reason
    detail: str


@dataclass(frozen=True)
class Envelope:
    events: list[IncomingEvent] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    @property
    def clamped(self) -> int:
        return sum(1 for event in self.events if event.clamped)


class _Numbers:
    """json.loads hooks that note a NaN, an Infinity or a float too large to be finite."""

    def __init__(self) -> None:
        self.nonfinite = False

    def finite(self, text: str) -> float:
        value = float(text)
        self.nonfinite = self.nonfinite or not math.isfinite(value)
        return value

    def constant(self, text: str) -> float:
        self.nonfinite = True
        return float(text)


def bound_timestamp(sent: datetime, now: datetime, max_skew: timedelta) -> tuple[datetime, bool]:
    """The time to record for an event dated ``sent`` and received at ``now``; clamped?

    Before 2000 is refused (no registry event is that old; year 1 is what a zero Go time
    prints). More than ``max_skew`` ahead of ``now`` is clamped to ``now``."""
    try:
        if sent < MIN_TIMESTAMP:
            raise Refused(Reason.TIMESTAMP, f"timestamp {sent.isoformat()} is before 2000")
        if sent > now + max_skew:
            return now, True
        return sent.astimezone(UTC), False
    except OverflowError as exc:
        raise Refused(Reason.TIMESTAMP, "timestamp is out of range") from exc


def _timestamp(value: object, now: datetime, max_skew: timedelta) -> tuple[datetime, bool]:
    if value is None:
        return now, False
    if not isinstance(value, str) or len(value) > 64:
        raise Refused(Reason.TIMESTAMP, "timestamp is not an RFC 3339 string")
    try:
        sent = parse_rfc3339(value)
    except (ValueError, OverflowError) as exc:
        raise Refused(Reason.TIMESTAMP, "timestamp is not RFC 3339 with a time zone") from exc
    return bound_timestamp(sent, now, max_skew)


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refused(Reason.MALFORMED, f"{key} is not a string")
    return value


def _printable(name: str, value: str | None) -> str | None:
    """A field shown and indexed as it is: bounded, no control, format or surrogate chars."""
    if value is None:
        return None
    if len(value) > MAX_LENGTHS[name]:
        raise Refused(Reason.TOO_LONG, f"{name} is longer than {MAX_LENGTHS[name]} characters")
    if not value.isprintable():  # Unicode's "Other" and "Separator" but the space
        raise Refused(Reason.CHARACTERS, f"{name} has a control, format or invalid character")
    return value


def _check_data(raw: dict[str, Any]) -> None:
    """No NUL or lone surrogate in any string and no NaN/Infinity anywhere (iterative walk)."""
    stack: list[object] = [raw]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _NUL_OR_SURROGATE.search(item):
                raise Refused(Reason.CHARACTERS, "a string holds NUL or a lone surrogate")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise Refused(Reason.NUMBER, "a number is NaN or infinite")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _event(
    raw: dict[str, Any], position: int, now: datetime, max_skew: timedelta, suspect: bool
) -> IncomingEvent:
    if suspect:
        _check_data(raw)
    event_id = _printable("event_id", _str(raw, "id"))
    if not event_id:
        raise Refused(Reason.MALFORMED, "id is missing")
    action = _str(raw, "action")
    if action not in ACTIONS:
        raise Refused(Reason.MALFORMED, "action is not one of push, pull, delete, mount")
    target = raw.get("target")
    if not isinstance(target, dict):
        raise Refused(Reason.MALFORMED, "target is missing or not an object")
    repository = _str(target, "repository")
    if not repository:
        raise Refused(Reason.MALFORMED, "target.repository is missing")
    if not is_valid_repository(repository):
        raise Refused(Reason.REPOSITORY, "target.repository is not a valid repository name")
    tag = _str(target, "tag")
    if tag is not None and not is_valid_tag(tag):
        raise Refused(Reason.TAG, "target.tag is not a valid tag")
    digest = _str(target, "digest")
    if digest is not None and not is_valid_digest(digest):
        raise Refused(Reason.DIGEST, "target.digest is not a sha256/sha384/sha512 digest")
    _printable("digest", digest)
    actor = raw.get("actor") if isinstance(raw.get("actor"), dict) else {}
    request = raw.get("request") if isinstance(raw.get("request"), dict) else {}
    assert isinstance(actor, dict)
    assert isinstance(request, dict)
    occurred_at, clamped = _timestamp(raw.get("timestamp"), now, max_skew)
    return IncomingEvent(
        event_id=event_id,
        action=action,
        repository=repository,
        tag=tag,
        digest=digest,
        media_type=_printable("media_type", _str(target, "mediaType")),
        actor=_printable("actor", _str(actor, "name")),
        user_agent=_str(request, "useragent"),
        occurred_at=occurred_at,
        data=raw,
        clamped=clamped,
        position=position,
    )


def parse_envelope(
    body: bytes, now: datetime, *, max_skew: timedelta = DEFAULT_MAX_SKEW
) -> Envelope:
    """Parse an envelope received at ``now``: its valid events, in order, and the refused ones.

    Raises InvalidEnvelope only when the body itself is not an envelope."""
    numbers = _Numbers()
    try:
        data = json.loads(body, parse_float=numbers.finite, parse_constant=numbers.constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEnvelope(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidEnvelope("body is JSON nested too deeply") from exc
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise InvalidEnvelope('body is not an envelope of the form {"events": [...]}')
    envelope = Envelope()
    # Only a body with something that can decode to NUL, a lone surrogate or a non-finite number
    # needs a walk of its events (a NUL byte means UTF-16 or 32, walked too).
    suspect = (
        numbers.nonfinite
        or b"\x00" in body
        or (b"\\u" in body and _ESCAPED_NUL_OR_SURROGATE.search(body) is not None)
    )
    for index, raw in enumerate(data["events"]):
        event_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            if not isinstance(raw, dict):
                raise Refused(Reason.MALFORMED, "event is not an object")
            envelope.events.append(_event(raw, index, now, max_skew, suspect))
        except Refused as exc:
            shown = event_id[: MAX_LENGTHS["event_id"]] if isinstance(event_id, str) else None
            envelope.refused.append(Refusal(index, shown, exc.reason, str(exc)))
    return envelope


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
