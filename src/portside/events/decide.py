"""What an event changes in the index, given the index's state (pure functions).

Nothing here does I/O: the processor gathers the facts (the event, the tags it names, the
image the event points to) and applies what these functions return.

Order is the order the registry sent, not the sender's clock: every event carries its queue
position (``seq``: the ``registry_events`` id, insertion order = envelope order = receive
order), and a tag remembers the position of the last event applied to it (``source_seq``).
A tag last set by the sync has no position; there the event's time is compared with the
sync's observation time, and an event's time never counts as later than when Portside
received it (:attr:`EventFacts.at`), so a clock that runs ahead (a year 2999, a replica a few
minutes fast) can never make an event outrank what came after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from portside.index.facts import TagFacts
from portside.registry.images import ImageInfo


@dataclass(frozen=True)
class EventFacts:
    action: str
    tag: str | None
    digest: str | None
    actor: str | None
    occurred_at: datetime
    seq: int = 0  # the queue id: the order the registry sent
    received_at: datetime | None = None  # Portside's clock when the webhook stored it

    @property
    def at(self) -> datetime:
        """The event's time, bounded by when it was received (the sender's clock may run
        ahead; ours decides)."""
        if self.received_at is None:
            return self.occurred_at
        return min(self.occurred_at, self.received_at)


@dataclass(frozen=True)
class Upsert:
    tag: str
    image: ImageInfo
    previous_digest: str | None  # None: a new tag


@dataclass(frozen=True)
class Complete:
    """A late push of the tag's current digest: fill what the row lacks, move nothing."""

    tag: str
    actor: str | None
    pushed_at: datetime | None


@dataclass(frozen=True)
class Remove:
    tags: tuple[str, ...]


@dataclass(frozen=True)
class TouchPulled:
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Skip:
    reason: str


Decision = Upsert | Complete | Remove | TouchPulled | Skip


def needs_image(event: EventFacts) -> bool:
    """Only a tagged manifest push needs the image from the registry."""
    return event.action == "push" and bool(event.tag) and bool(event.digest)


def is_newer(event: EventFacts, tag: TagFacts) -> bool:
    """Whether ``event`` comes after what ``tag`` shows: by queue position against an event,
    by (bounded) time against the sync's observation."""
    if tag.source_seq is not None:
        return event.seq > tag.source_seq
    return event.at >= tag.source_at


def decide_push(event: EventFacts, current: TagFacts | None, image: ImageInfo) -> Decision:
    if not event.tag:
        return Skip("a manifest pushed by digest, without a tag")
    if current is None or is_newer(event, current):
        return Upsert(event.tag, image, previous_digest=current.digest if current else None)
    if current.digest == image.digest:
        actor = event.actor if current.author is None else None
        pushed_at = event.at if current.pushed_at is None else None
        if actor is not None or pushed_at is not None:
            return Complete(event.tag, actor=actor, pushed_at=pushed_at)
    return Skip(f"tag {event.tag} changed after this event")


def decide_delete(event: EventFacts, tags: dict[str, TagFacts]) -> Decision:
    """A delete names a digest (every tag on it goes) or, on 2.8's follow-ups, one tag."""
    if event.digest:
        gone = tuple(
            sorted(t.name for t in tags.values() if t.digest == event.digest and is_newer(event, t))
        )
    elif event.tag and event.tag in tags and is_newer(event, tags[event.tag]):
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
            t.name for t in matching if t.pulled_at is None or event.at - t.pulled_at >= resolution
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


def fold_pulls(
    events: list[EventFacts], tags: dict[str, TagFacts], resolution: timedelta
) -> tuple[dict[str, datetime], int]:
    """A run of pull events applied in order to ``tags`` (every tag they name, and every tag
    on a digest pulled without a tag), as :func:`decide_pull` would one by one: returns each
    touched tag's final ``pulled_at`` (one write per tag, however many pulls it had) and how
    many of the events touched something."""
    current = dict(tags)
    pulled: dict[str, datetime] = {}
    touching = 0
    for event in events:
        decision = decide_pull(event, current, resolution)
        if isinstance(decision, TouchPulled):
            touching += 1
            for name in decision.tags:
                current[name] = replace(current[name], pulled_at=event.at)
                pulled[name] = event.at
    return pulled, touching
