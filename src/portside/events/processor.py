"""Processing claimed events: fetch what they point to, decide, apply, in order per repository.

One batch: claim (short write transaction), describe the pushed images the index does not
know yet (concurrently, outside any transaction), then apply every event of the batch in one
write transaction. An event whose image could not be fetched is retried later with backoff,
and the events of its repository queued behind it are given back, so order is kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.engine import Database
from portside.db.models import RegistryEvent, Repository, Tag
from portside.errors import (
    RegistryError,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryRejected,
    StorageError,
)
from portside.events import queue
from portside.events.decide import (
    Decision,
    EventFacts,
    Remove,
    Skip,
    TagFacts,
    TouchPulled,
    Upsert,
    backoff,
    decide,
    needs_image,
)
from portside.index import store
from portside.registry.client import RegistryClient
from portside.registry.images import ImageInfo, describe
from portside.settings import EventsTaskSettings

log = logging.getLogger(__name__)

APPLY_CHUNK = 100  # repositories per write transaction


def _fields(event: RegistryEvent) -> dict[str, object]:
    """The structured log fields of an event (what operators search the log for)."""
    return {
        "event_id": event.event_id,
        "repository": event.repository,
        "tag": event.tag,
        "digest": event.digest,
    }


class LeaseLost(StorageError):
    """Another worker took over this batch's events (our lease expired)."""


@dataclass
class BatchResult:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    changes: int = 0
    errors: list[str] = field(default_factory=list)


def facts(event: RegistryEvent) -> EventFacts:
    return EventFacts(
        action=event.action,
        tag=event.tag,
        digest=event.digest,
        actor=event.actor,
        occurred_at=event.occurred_at,
    )


def tag_facts(tags: Iterable[Tag]) -> dict[str, TagFacts]:
    return {
        t.name: TagFacts(name=t.name, digest=t.digest, source_at=t.source_at, pulled_at=t.pulled_at)
        for t in tags
    }


class ImageCache:
    """Recently described images by digest (a manifest's content never changes)."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._items: OrderedDict[str, ImageInfo] = OrderedDict()

    def get(self, digest: str) -> ImageInfo | None:
        image = self._items.get(digest)
        if image is not None:
            self._items.move_to_end(digest)
        return image

    def put(self, image: ImageInfo) -> None:
        self._items[image.digest] = image
        self._items.move_to_end(image.digest)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


@dataclass
class _Batch:
    """What applying one batch works on."""

    session: AsyncSession
    registry_id: int
    repos: dict[str, Repository]
    images: dict[str, ImageInfo | Exception]
    now: datetime
    result: BatchResult
    done: list[int] = field(default_factory=list)
    emptied: set[str] = field(default_factory=set)


class EventProcessor:
    def __init__(
        self,
        db: Database,
        registry: RegistryClient,
        settings: EventsTaskSettings,
        *,
        worker: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.registry = registry
        self.settings = settings
        self.worker = worker
        self.clock = clock
        self.images = ImageCache()

    async def run_batch(self) -> BatchResult:
        now = self.clock()
        async with self.db.read() as session:
            if not await queue.claimable(session, now):
                return BatchResult()
        async with self.db.write() as session:
            claimed = await queue.claim(
                session,
                worker=self.worker,
                now=now,
                limit=self.settings.batch_size,
                lease=timedelta(seconds=self.settings.lease),
                max_attempts=self.settings.max_attempts,
            )
        result = BatchResult(claimed=len(claimed.events), failed=claimed.expired_failed)
        if not claimed.events:
            return result
        images = await self._describe_all(claimed.events)
        # Short write transactions: a batch that creates many repositories must not hold
        # SQLite's write lock (and the webhook behind it) for long.
        by_repo: dict[str, list[RegistryEvent]] = {}
        for event in claimed.events:
            by_repo.setdefault(event.repository, []).append(event)
        groups = list(by_repo.values())
        for start in range(0, len(groups), APPLY_CHUNK):
            chunk = [e for group in groups[start : start + APPLY_CHUNK] for e in group]
            async with self.db.write() as session:
                await self._apply(session, chunk, images, result)
        return result

    async def _describe_all(self, events: list[RegistryEvent]) -> dict[str, ImageInfo | Exception]:
        wanted: dict[str, str] = {}  # digest -> a repository to read it from
        for event in events:
            if needs_image(facts(event)) and event.digest:
                wanted.setdefault(event.digest, event.repository)
        found: dict[str, ImageInfo | Exception] = {}
        for digest in list(wanted):
            cached = self.images.get(digest)
            if cached is not None:
                found[digest] = cached
                del wanted[digest]
        if wanted:
            async with self.db.read() as session:
                known = await store.known_images(session, wanted)
            for digest, image in known.items():
                found[digest] = image
                self.images.put(image)
                del wanted[digest]

        async def one(digest: str, repository: str) -> None:
            try:
                image = await describe(self.registry, repository, digest)
            except RegistryError as exc:
                found[digest] = exc
            except Exception as exc:  # a bug or a hostile manifest: this event fails, not the batch
                log.exception(
                    "describing %s@%s failed",
                    repository,
                    digest,
                    extra={"repository": repository, "digest": digest},
                )
                found[digest] = exc
            else:
                self.images.put(image)
                found[digest] = image

        await asyncio.gather(*(one(d, r) for d, r in wanted.items()))
        return found

    async def _apply(
        self,
        session: AsyncSession,
        events: list[RegistryEvent],
        images: dict[str, ImageInfo | Exception],
        result: BatchResult,
    ) -> None:
        now = self.clock()
        registry_id = await store.ensure_registry(session, self.registry.base_url, now)
        by_repo: dict[str, list[RegistryEvent]] = {}
        first_push: dict[str, RegistryEvent] = {}
        for event in events:
            by_repo.setdefault(event.repository, []).append(event)
            if needs_image(facts(event)) and isinstance(images.get(event.digest or ""), ImageInfo):
                first_push.setdefault(event.repository, event)
        # Repositories a push may fill are created together, in a few statements.
        repos, created = await store.ensure_repositories(session, registry_id, first_push, now)
        for name in sorted(created):
            event = first_push[name]
            store.record(
                session, "repository.create", event.occurred_at, actor=event.actor, repository=name
            )
        rest = [name for name in by_repo if name not in repos]
        repos.update(await store.repositories_by_name(session, registry_id, rest))
        batch = _Batch(
            session=session,
            registry_id=registry_id,
            repos=repos,
            images=images,
            now=now,
            result=result,
        )
        for name, repo_events in by_repo.items():
            await self._apply_repository(batch, name, repo_events)
        for name in batch.emptied:
            repo = batch.repos[name]
            if not repo.tags:
                await session.delete(repo)
                store.record(
                    session,
                    "repository.delete",
                    now,
                    actor=None,
                    repository=name,
                    reason="its last tag was deleted",
                )
        await session.flush()
        held = await queue.complete(session, batch.done, worker=self.worker, now=now)
        if held != len(batch.done):
            raise LeaseLost(
                f"{len(batch.done) - held} of {len(batch.done)} events were taken over by "
                "another worker"
            )
        result.done += len(batch.done)

    async def _apply_repository(
        self, batch: _Batch, name: str, events: list[RegistryEvent]
    ) -> None:
        """Apply one repository's events in order; stop at one that must be retried."""
        session = batch.session
        for position, event in enumerate(events):
            image = batch.images.get(event.digest or "") if needs_image(facts(event)) else None
            if isinstance(image, Exception):
                outcome = await self._failed_fetch(session, event, image, batch.now, batch.result)
                if outcome == "done":
                    batch.done.append(event.id)
                if outcome != "retry":
                    continue
                rest = [e.id for e in events[position + 1 :]]
                await queue.release(session, rest, worker=self.worker)
                batch.result.released += len(rest)
                return
            repo = batch.repos.get(name)
            decision = decide(
                facts(event),
                tag_facts(repo.tags) if repo else {},
                image,
                pull_resolution=timedelta(seconds=self.settings.pull_resolution),
            )
            if repo is not None and self._apply_one(session, repo, event, decision, batch.now):
                batch.result.changes += 1
                if isinstance(decision, Remove):
                    batch.emptied.add(name)
            batch.done.append(event.id)

    def _apply_one(
        self,
        session: AsyncSession,
        repo: Repository,
        event: RegistryEvent,
        decision: Decision,
        now: datetime,
    ) -> bool:
        if isinstance(decision, Skip):
            log.debug("event %s: %s", event.event_id, decision.reason, extra=_fields(event))
            return False
        tags = {t.name: t for t in repo.tags}
        if isinstance(decision, Upsert):
            tag = tags.get(decision.tag)
            if tag is None:
                tag = Tag(name=decision.tag, created_at=now, scan_state="pending", platforms=[])
                repo.tags.append(tag)
            elif tag.digest != decision.image.digest:
                tag.scan_state = "pending"
            store.apply_image(tag, decision.image)
            tag.author = event.actor
            tag.pushed_at = event.occurred_at
            tag.source_at = event.occurred_at
            tag.updated_at = now
            repo.updated_at = now
            store.record(
                session,
                "tag.push",
                event.occurred_at,
                actor=event.actor,
                repository=repo.name,
                tag=decision.tag,
                digest=decision.image.digest,
                previous_digest=decision.previous_digest,
            )
            return True
        if isinstance(decision, Remove):
            for name in decision.tags:
                tag = tags[name]
                repo.tags.remove(tag)
                store.record(
                    session,
                    "tag.delete",
                    event.occurred_at,
                    actor=event.actor,
                    repository=repo.name,
                    tag=name,
                    digest=tag.digest,
                )
            repo.updated_at = now
            return True
        assert isinstance(decision, TouchPulled)
        for name in decision.tags:
            tags[name].pulled_at = event.occurred_at
        return True

    async def _failed_fetch(
        self,
        session: AsyncSession,
        event: RegistryEvent,
        error: Exception,
        now: datetime,
        result: BatchResult,
    ) -> str:
        """Handle an event whose image could not be described.

        Returns "done" (nothing to index), "failed" (given up; the repository's later events go
        on) or "retry" (the repository's later events must wait for it)."""
        where = f"{event.repository}@{event.digest}"
        settings = self.settings
        if isinstance(error, RegistryNotFound):
            if event.attempts <= settings.not_found_retries:
                # The push event can arrive before the manifest is readable (distribution #2625).
                await queue.retry_later(
                    session,
                    event.id,
                    worker=self.worker,
                    available_at=now + timedelta(seconds=settings.not_found_delay),
                    error=f"manifest not readable yet: {error}",
                )
                result.retried += 1
                return "retry"
            log.info(
                "event %s: %s is gone from the registry; nothing indexed",
                event.event_id,
                where,
                extra=_fields(event),
            )
            return "done"
        message = f"{type(error).__name__}: {error}"
        permanent = isinstance(error, RegistryProtocolError | RegistryRejected) or not isinstance(
            error, RegistryError
        )
        if permanent or event.attempts >= settings.max_attempts:
            log.warning(
                "event %s (%s) failed after %d attempts: %s",
                event.event_id,
                where,
                event.attempts,
                message,
                extra={**_fields(event), "attempts": event.attempts, "error": message},
            )
            await queue.fail(session, event.id, worker=self.worker, now=now, error=message)
            result.failed += 1
            result.errors.append(message)
            return "failed"
        delay = backoff(event.attempts, settings.backoff_base, settings.backoff_max)
        log.info(
            "event %s (%s): %s; retrying in %.0fs",
            event.event_id,
            where,
            message,
            delay.total_seconds(),
            extra={**_fields(event), "error": message, "retry_in": delay.total_seconds()},
        )
        await queue.retry_later(
            session, event.id, worker=self.worker, available_at=now + delay, error=message
        )
        result.retried += 1
        result.errors.append(message)
        return "retry"
