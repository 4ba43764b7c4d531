"""What an event changes in the index, given the index's state (pure functions).

Nothing here does I/O: the processor gathers the facts (the event, the repository's tags, the
image the event points to) and applies what these functions return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from portside.registry.images import ImageInfo


@dataclass(frozen=True)
class EventFacts:
    action: str
    tag: str | None
    digest: str | None
    actor: str | None
    occurred_at: datetime


@dataclass(frozen=True)
class TagFacts:
    name: str
    digest: str
    source_at: datetime
    pulled_at: datetime | None


@dataclass(frozen=True)
class Upsert:
    tag: str
    image: ImageInfo
    previous_digest: str | None  # None: a new tag


@dataclass(frozen=True)
class Remove:
    tags: tuple[str, ...]


@dataclass(frozen=True)
class TouchPulled:
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Skip:
    reason: str


Decision = Upsert | Remove | TouchPulled | Skip


def needs_image(event: EventFacts) -> bool:
    """Only a tagged manifest push needs the image's description from the registry."""
    return event.action == "push" and bool(event.tag) and bool(event.digest)


def decide_push(event: EventFacts, current: TagFacts | None, image: ImageInfo) -> Decision:
    if not event.tag:
        return Skip("a manifest pushed by digest, without a tag")
    if current is not None and current.source_at > event.occurred_at:
        return Skip(f"tag {event.tag} changed after this event")
    return Upsert(event.tag, image, previous_digest=current.digest if current else None)


def decide_delete(event: EventFacts, tags: dict[str, TagFacts]) -> Decision:
    """A delete names a digest (every tag on it goes) or, on 2.8's follow-ups, one tag."""
    if event.digest:
        gone = tuple(
            sorted(
                t.name
                for t in tags.values()
                if t.digest == event.digest and t.source_at <= event.occurred_at
            )
        )
    elif event.tag and event.tag in tags and tags[event.tag].source_at <= event.occurred_at:
        gone = (event.tag,)
    else:
        gone = ()
    return Remove(gone) if gone else Skip("nothing in the index matches this delete")


def decide_pull(event: EventFacts, tags: dict[str, TagFacts], resolution: timedelta) -> Decision:
    """Touch ``pulled_at`` only when it moves by at least ``resolution`` (a pull storm is not
    a write storm)."""
    if event.tag:
        matching = [tags[event.tag]] if event.tag in tags else []
    else:
        matching = [t for t in tags.values() if t.digest == event.digest]
    touched = tuple(
        sorted(
            t.name
            for t in matching
            if t.pulled_at is None or event.occurred_at - t.pulled_at >= resolution
        )
    )
    return TouchPulled(touched) if touched else Skip("pull time already current")


def decide(
    event: EventFacts,
    tags: dict[str, TagFacts],
    image: ImageInfo | None,
    *,
    pull_resolution: timedelta,
) -> Decision:
    if event.action == "push":
        if image is None:
            return Skip("a manifest pushed by digest, without a tag")
        return decide_push(event, tags.get(event.tag or ""), image)
    if event.action == "delete":
        return decide_delete(event, tags)
    if event.action == "pull":
        return decide_pull(event, tags, pull_resolution)
    return Skip(f"action {event.action} changes nothing")


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential backoff after ``attempts`` failed tries: base, 2 base, 4 base, ... cap."""
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))
