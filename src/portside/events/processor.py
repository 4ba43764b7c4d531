"""Processing claimed events: confirm what they point to, decide, apply, in order per repository.

One batch: claim (short write transaction); confirm each pushed image *in the repository the
event names* (a manifest HEAD when the image is known already, else a GET of the manifest;
concurrently, outside any transaction); apply every event of the batch in short write
transactions that load only the tags the events name (and, for a digest's delete or pull, the
tags on that digest), so per-event work does not grow with a repository's size. An event whose
image could not be read is retried later with backoff, and the events of its repository queued
behind it are given back, so order is kept.

A new image is indexed from its manifest alone (digest, media type, size) with
``tags.described`` false, the way the sync records one; its config (platform, creation time)
or an index's platform manifests are read afterwards (:meth:`EventProcessor.describe_pending`),
when the queue is not saturated or every few batches, so describing never holds up indexing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from portside.background.retry import backoff
from portside.db.engine import Database
from portside.db.models import RegistryEvent, Repository, Tag
from portside.errors import (
    PortsideError,
    RegistryError,
    RegistryNotFound,
    RegistryProtocolError,
    RegistryRejected,
)
from portside.events import queue
from portside.events.decide import (
    Complete,
    Decision,
    EventFacts,
    Remove,
    Skip,
    TouchPulled,
    Upsert,
    decide,
    needs_image,
)
from portside.events.pulls import apply_pulls
from portside.events.queue import LeaseLost
from portside.index import store
from portside.index.facts import TagFacts
from portside.index.writes import IndexWrites, Origin, Pointing
from portside.registry.client import RegistryClient
from portside.registry.image_cache import ImageCache
from portside.registry.images import ImageInfo, complete, from_manifest
from portside.settings import EventsTaskSettings

log = logging.getLogger(__name__)

APPLY_CHUNK = 100  # repositories per write transaction
APPLY_EVENTS = 100  # events per write transaction (SQLite's writers, the webhook among them, wait)
DESCRIBE_EVERY = 4  # batches: a saturated queue still gets its images described
REAP_EVERY = 1.0  # seconds (at most half a lease) between frees of expired claims
DESCRIBE_BACKLOG = 2000  # undescribed images remembered; beyond, the sync describes them


def _fields(event: RegistryEvent) -> dict[str, object]:
    """The structured log fields of an event (what operators search the log for)."""
    return {
        "event_id": event.event_id,
        "repository": event.repository,
        "tag": event.tag,
        "digest": event.digest,
    }


@dataclass
class BatchResult:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    changes: int = 0
    described: int = 0
    errors: list[str] = field(default_factory=list)


def facts(event: RegistryEvent) -> EventFacts:
    return EventFacts(
        action=event.action,
        tag=event.tag,
        digest=event.digest,
        actor=event.actor,
        occurred_at=event.occurred_at,
        seq=event.id,
        received_at=event.received_at,
    )


def tag_facts(tag: Tag) -> TagFacts:
    return TagFacts(
        name=tag.name,
        digest=tag.digest,
        source_at=tag.source_at,
        pulled_at=tag.pulled_at,
        source_seq=tag.source_seq,
        author=tag.author,
        pushed_at=tag.pushed_at,
    )


Where = tuple[str, str]  # (repository, digest)


@dataclass
class _Batch:
    """What applying one batch works on."""

    session: AsyncSession
    writes: IndexWrites
    images: dict[Where, ImageInfo | Exception]
    now: datetime
    result: BatchResult
    done: list[int] = field(default_factory=list)
    stopped: set[str] = field(default_factory=set)  # repositories waiting for a retry


def chunks(events: list[RegistryEvent]) -> list[list[RegistryEvent]]:
    """The batch's events in write transactions: grouped by repository (in order within
    each), at most :data:`APPLY_CHUNK` repositories and about :data:`APPLY_EVENTS` events per
    transaction; a repository with more events is split across transactions, in order."""
    by_repo: dict[str, list[RegistryEvent]] = {}
    for event in events:
        by_repo.setdefault(event.repository, []).append(event)
    found: list[list[RegistryEvent]] = [[]]
    repositories = 0
    for group in by_repo.values():
        for start in range(0, len(group), APPLY_EVENTS):
            piece = group[start : start + APPLY_EVENTS]
            if found[-1] and (
                len(found[-1]) + len(piece) > APPLY_EVENTS or repositories >= APPLY_CHUNK
            ):
                found.append([])
                repositories = 0
            found[-1].extend(piece)
            repositories += 1
    return [chunk for chunk in found if chunk]


def split_pulls(
    chunk: list[RegistryEvent], stopped: set[str]
) -> tuple[dict[str, list[RegistryEvent]], list[RegistryEvent]]:
    """A chunk's events of the repositories that have only pulls in it (by repository, in
    order: applied by events/pulls.py), and the rest (in order: applied through the ORM). A
    repository stopped by a retry earlier in the batch goes with the rest (it is released)."""
    by_repo: dict[str, list[RegistryEvent]] = {}
    for event in chunk:
        by_repo.setdefault(event.repository, []).append(event)
    pulls = {
        name: events
        for name, events in by_repo.items()
        if name not in stopped and all(e.action == "pull" for e in events)
    }
    return pulls, [e for e in chunk if e.repository not in pulls]


def _by_digest(event: RegistryEvent) -> bool:
    """Whether the event touches every tag on its digest (a delete; a pull without a tag)."""
    return bool(event.digest) and (
        event.action == "delete" or (event.action == "pull" and not event.tag)
    )


def _named_tags(
    by_repo: dict[str, list[RegistryEvent]], repos: dict[str, Repository]
) -> dict[int, tuple[set[str], set[str]]]:
    """Per repository id: the tag names its events name, and the digests whose every tag a
    delete or pull by digest touches (all an event needs, whatever the repository's size)."""
    wanted: dict[int, tuple[set[str], set[str]]] = {}
    for name, repo_events in by_repo.items():
        if name in repos:
            names, digests = wanted.setdefault(repos[name].id, (set(), set()))
            for event in repo_events:
                if event.tag:
                    names.add(event.tag)
                if _by_digest(event) and event.digest:
                    digests.add(event.digest)
    return wanted


def _relevant(event: RegistryEvent, tags: dict[str, Tag]) -> dict[str, TagFacts]:
    """The facts of the tags this event can touch: the one it names, and for a delete (or a
    pull by digest) the ones on its digest."""
    found: dict[str, TagFacts] = {}
    if event.tag and event.tag in tags:
        found[event.tag] = tag_facts(tags[event.tag])
    if _by_digest(event):
        found.update((n, tag_facts(t)) for n, t in tags.items() if t.digest == event.digest)
    return found


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
        self.configs: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.undescribed: dict[str, Where] = {}  # digest -> where to read it
        self._batches_since_describe = 0
        self._last_reap: datetime | None = None

    async def run_batch(self, *, describe: bool = True) -> BatchResult:
        """Index one batch; then describe the new images if the queue is not saturated (or
        every :data:`DESCRIBE_EVERY` batches); ``describe=False`` never describes."""
        result = await self.index_batch()
        self._batches_since_describe += 1
        saturated = result.claimed >= self.settings.batch_size
        if (
            describe
            and self.undescribed
            and (not saturated or self._batches_since_describe >= DESCRIBE_EVERY)
        ):
            result.described = await self.describe_pending()
        return result

    async def index_batch(self) -> BatchResult:
        now = self.clock()
        async with self.db.read() as session:
            if not await queue.claimable(session, now):
                return BatchResult()
        events, expired_failed = await self._claim(now)
        result = BatchResult(claimed=len(events), failed=expired_failed)
        if not events:
            return result
        images = await self._confirm_all(events)
        # Short write transactions: a batch must not hold SQLite's write lock (and the webhook
        # behind it) for long. A repository stopped by a retry stays stopped in later chunks.
        stopped: set[str] = set()
        for chunk in chunks(events):
            pulls, rest = split_pulls(chunk, stopped)
            if pulls:
                await self._apply_pulls(pulls, result)
            if rest:
                async with self.db.write() as session:
                    await self._apply(session, rest, images, result, stopped)
        for (repository, digest), image in images.items():
            if (
                isinstance(image, ImageInfo)
                and not image.described
                and len(self.undescribed) < DESCRIBE_BACKLOG
            ):
                self.undescribed.setdefault(digest, (repository, digest))
        return result

    async def _apply_pulls(
        self, by_repo: dict[str, list[RegistryEvent]], result: BatchResult
    ) -> None:
        """Repositories whose events in a chunk are all pulls: folded, off the ORM, in one
        write transaction (events/pulls.py)."""
        resolution = timedelta(seconds=self.settings.pull_resolution)
        now = self.clock()
        applied = await self.db.run_write(
            lambda conn: apply_pulls(
                conn, by_repo, resolution=resolution, worker=self.worker, now=now
            )
        )
        result.done += applied.done
        result.changes += applied.changes

    async def _claim(self, now: datetime) -> tuple[list[RegistryEvent], int]:
        """Up to ``batch_size`` events, claimed in write transactions of at most
        :data:`APPLY_EVENTS` (each short; one repository's events come in one of them, the
        next claims find it busy)."""
        events: list[RegistryEvent] = []
        expired_failed = 0
        # Expired claims are freed every REAP_EVERY (two statements a claim saved: on SQLite
        # the webhook waits behind every write), and always on an idle worker's first claim.
        every = timedelta(seconds=min(REAP_EVERY, self.settings.lease / 2))
        reap = self._last_reap is None or now - self._last_reap >= every or now < self._last_reap
        if reap:
            self._last_reap = now
        while len(events) < self.settings.batch_size:
            claimed = await self.db.run_write(
                partial(
                    queue.claim_on,
                    worker=self.worker,
                    now=now,
                    limit=min(APPLY_EVENTS, self.settings.batch_size - len(events)),
                    lease=timedelta(seconds=self.settings.lease),
                    max_attempts=self.settings.max_attempts,
                    reap=reap,
                )
            )
            reap = False
            events.extend(claimed.events)
            expired_failed += claimed.expired_failed
            if len(claimed.events) < APPLY_EVENTS:
                break
        return events, expired_failed

    async def _confirm_all(self, events: list[RegistryEvent]) -> dict[Where, ImageInfo | Exception]:
        """Each pushed image, confirmed in the repository its event names: a HEAD when the
        image is known (cached, or anywhere in the index), else its manifest (GET)."""
        wanted = sorted(
            {(e.repository, e.digest) for e in events if needs_image(facts(e)) and e.digest}
        )
        known: dict[str, ImageInfo] = {}
        for _, digest in wanted:
            cached = self.images.get(digest)
            if cached is not None:
                known[digest] = cached
        unknown = {digest for _, digest in wanted} - known.keys()
        if unknown:
            async with self.db.read() as session:
                for digest, image in (await store.known_images(session, unknown)).items():
                    self.images.put(image)
                    known[digest] = image
        found: dict[Where, ImageInfo | Exception] = {}

        async def one(repository: str, digest: str) -> None:
            try:
                image = known.get(digest)
                if image is not None:
                    head = await self.registry.head_manifest(repository, digest)
                    if head.digest != digest:
                        raise RegistryProtocolError(
                            f"HEAD {repository}@{digest} answered {head.digest}"
                        )
                else:
                    image = from_manifest(await self.registry.get_manifest(repository, digest))
                    if image.described:
                        self.images.put(image)
            except RegistryError as exc:
                found[(repository, digest)] = exc
            except Exception as exc:  # a bug or a hostile manifest: this event fails, not the batch
                log.exception(
                    "reading %s@%s failed",
                    repository,
                    digest,
                    extra={"repository": repository, "digest": digest},
                )
                found[(repository, digest)] = exc
            else:
                found[(repository, digest)] = image

        await asyncio.gather(*(one(r, d) for r, d in wanted))
        return found

    async def describe_pending(self) -> int:
        """Describe the images this processor indexed from their manifests alone (config:
        platform, creation time; an index's platform manifests), and write them to every
        tag still on that digest and undescribed. One that fails stays undescribed: the
        sync describes it (sync/describe.py)."""
        pending, self.undescribed = self.undescribed, {}
        self._batches_since_describe = 0
        if not pending:
            return 0
        async with self.db.read() as session:
            images = await store.undescribed_images(session, list(pending))

        async def one(repository: str, image: ImageInfo) -> ImageInfo | None:
            try:
                return await complete(self.registry, repository, image, self.configs)
            except PortsideError as exc:
                log.info(
                    "describing %s@%s failed: %s",
                    repository,
                    image.digest,
                    exc,
                    extra={"repository": repository, "digest": image.digest, "error": str(exc)},
                )
                return None

        described = [
            image
            for image in await asyncio.gather(
                *(one(pending[digest][0], image) for digest, image in images.items())
            )
            if image is not None
        ]
        while len(self.configs) > 1024:
            self.configs.popitem(last=False)
        if described:
            async with self.db.write() as session:
                await store.write_described(session, described)
            for image in described:
                self.images.put(image)
        return len(described)

    async def _apply(
        self,
        session: AsyncSession,
        events: list[RegistryEvent],
        images: dict[Where, ImageInfo | Exception],
        result: BatchResult,
        stopped: set[str],
    ) -> None:
        now = self.clock()
        registry_id = await store.ensure_registry(session, self.registry.base_url, now)
        by_repo: dict[str, list[RegistryEvent]] = {}
        first_push: dict[str, RegistryEvent] = {}
        for event in events:
            by_repo.setdefault(event.repository, []).append(event)
            if needs_image(facts(event)) and isinstance(
                images.get((event.repository, event.digest or "")), ImageInfo
            ):
                first_push.setdefault(event.repository, event)
        writes = IndexWrites(session, now)
        # Repositories a push may fill are created together, in a few statements.
        repos = await writes.create_repositories(
            registry_id,
            {name: Origin(event.actor, facts(event).at) for name, event in first_push.items()},
            with_tags=False,
        )
        rest = [name for name in by_repo if name not in repos]
        repos.update(await store.repositories_by_name(session, registry_id, rest, with_tags=False))
        loaded = await store.tags_of(session, _named_tags(by_repo, repos))
        batch = _Batch(
            session=session,
            writes=writes,
            images=images,
            now=now,
            result=result,
            stopped=stopped,
        )
        for name, repo_events in by_repo.items():
            repo = repos.get(name)
            await self._apply_repository(
                batch, name, repo, loaded.get(repo.id, {}) if repo else {}, repo_events
            )
        await writes.finish()
        held = await queue.complete(session, batch.done, worker=self.worker, now=now)
        if held != len(batch.done):
            raise LeaseLost(
                f"{len(batch.done) - held} of {len(batch.done)} events were taken over by "
                "another worker"
            )
        result.done += len(batch.done)

    async def _apply_repository(
        self,
        batch: _Batch,
        name: str,
        repo: Repository | None,
        tags: dict[str, Tag],
        events: list[RegistryEvent],
    ) -> None:
        """Apply one repository's events in order; stop at one that must be retried."""
        session = batch.session
        if name in batch.stopped:  # an earlier chunk of this batch stopped at a retry
            await queue.release(session, [e.id for e in events], worker=self.worker)
            batch.result.released += len(events)
            return
        for position, event in enumerate(events):
            event_facts = facts(event)
            image = (
                batch.images.get((name, event.digest or "")) if needs_image(event_facts) else None
            )
            if isinstance(image, Exception):
                outcome = await self._failed_fetch(session, event, image, batch.now, batch.result)
                if outcome == "done":
                    batch.done.append(event.id)
                if outcome != "retry":
                    continue
                rest = [e.id for e in events[position + 1 :]]
                batch.stopped.add(name)
                await queue.release(session, rest, worker=self.worker)
                batch.result.released += len(rest)
                return
            decision = decide(
                event_facts,
                _relevant(event, tags) if repo else {},
                image,
                pull_resolution=timedelta(seconds=self.settings.pull_resolution),
            )
            if repo is not None and self._apply_one(batch, repo, tags, event, decision):
                batch.result.changes += 1
            batch.done.append(event.id)

    def _apply_one(
        self,
        batch: _Batch,
        repo: Repository,
        tags: dict[str, Tag],
        event: RegistryEvent,
        decision: Decision,
    ) -> bool:
        writes, origin = batch.writes, Origin(event.actor, facts(event).at)
        if isinstance(decision, Skip):
            log.debug("event %s: %s", event.event_id, decision.reason, extra=_fields(event))
            return False
        if isinstance(decision, Upsert):
            pointing = Pointing(
                decision.tag, decision.image, decision.previous_digest, origin, seq=event.id
            )
            writes.point(repo, tags, pointing)
            return True
        if isinstance(decision, Complete):
            writes.complete_push(tags[decision.tag], decision.actor, decision.pushed_at)
            return True
        if isinstance(decision, Remove):
            for name in decision.tags:
                writes.remove(repo, tags.pop(name), origin)
            writes.drop_if_emptied(repo, Origin(None, batch.now), reason="its last tag was deleted")
            return True
        assert isinstance(decision, TouchPulled)
        for name in decision.tags:
            writes.pulled(tags[name], origin.at)
        return True

    async def _failed_fetch(
        self,
        session: AsyncSession,
        event: RegistryEvent,
        error: Exception,
        now: datetime,
        result: BatchResult,
    ) -> str:
        """Handle an event whose image could not be read from its repository.

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
                "event %s: %s is not in that repository; nothing indexed",
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
