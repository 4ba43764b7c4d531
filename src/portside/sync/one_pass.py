"""One sync pass: snapshot the index, walk the registry, apply changes per repository.

Additions and digest changes are applied as repositories' walks complete, in short batched
transactions; a new image is recorded from its manifest alone. Deletions wait for the end of
the walk and are applied only if the whole walk succeeded, the strategy deletes, and they stay
under the mass-deletion limit. A repository that received an event after the walk started is
left to the events. Then the index is complete, and the new images' configs are read
(:mod:`portside.sync.describe`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from portside.db.engine import Database
from portside.db.models import RegistryEvent, Repository, Tag
from portside.index import store
from portside.index.facts import TagFacts
from portside.index.writes import IndexWrites, Origin, Pointing
from portside.registry.client import RegistryClient
from portside.registry.image_cache import ImageCache
from portside.registry.images import ImageInfo, from_manifest
from portside.sync.describe import DescribeReport, describe_pending
from portside.sync.reconcile import (
    Observed,
    RepositoryPlan,
    SyncSummary,
    judge_deletions,
    left_to_events,
    plan_missing,
    plan_repository,
)
from portside.sync.walk import WalkResult, walk

log = logging.getLogger(__name__)

SYNC_ACTOR = "portside-sync"
MAX_ERRORS_KEPT = 20
UPSERT_BATCH = 50  # repositories applied per transaction


@dataclass
class SyncOptions:
    deletes: bool = True
    dry_run: bool = False
    allow_mass_delete: bool = False
    max_delete_share: float = 0.5
    page_size: int = 1000
    concurrency: int = 16


@dataclass
class Progress:
    """Callbacks for a progress display (the CLI's); all optional."""

    repository_done: Callable[[Observed, RepositoryPlan], Awaitable[None]] | None = None
    images_described: Callable[[int], Awaitable[None]] | None = None


@dataclass
class SyncReport:
    summary: SyncSummary
    plans: list[RepositoryPlan] = field(default_factory=list)  # dry runs keep them
    requests: int = 0
    duration: float = 0.0  # the whole pass
    index_duration: float = 0.0  # until the index matched the registry (before describing)
    started_at: datetime | None = None
    describe: DescribeReport | None = None


class SyncRun:
    def __init__(
        self,
        db: Database,
        client: RegistryClient,
        options: SyncOptions,
        *,
        progress: Progress | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        images: ImageCache | None = None,
    ):
        self.db = db
        self.client = client
        self.options = options
        self.progress = progress or Progress()
        self.clock = clock
        self.images = images or ImageCache()
        self.summary = SyncSummary()
        self.pending: list[RepositoryPlan] = []  # deletions, applied at the end
        self.plans: list[RepositoryPlan] = []
        self._indexed: dict[str, dict[str, TagFacts]] = {}
        self._registry_id = 0
        self._known_digests: set[str] = set()
        self._ready: list[tuple[RepositoryPlan, dict[str, ImageInfo]]] = []
        self._flush_lock = asyncio.Lock()

    async def run(self) -> SyncReport:
        started_clock, requests_before = time.monotonic(), self.client.stats.requests
        self.started = self.clock()
        async with self.db.read() as session:
            self._indexed = await _snapshot(session)
        self._known_digests = {t.digest for tags in self._indexed.values() for t in tags.values()}
        if not self.options.dry_run:
            async with self.db.write() as session:
                self._registry_id = await store.ensure_registry(
                    session, self.client.base_url, self.started
                )
        indexed_tags = sum(len(tags) for tags in self._indexed.values())
        seen: set[str] = set()

        async def on_repository(observed: Observed) -> None:
            seen.add(observed.name)
            await self._repository(observed)

        result = await walk(
            self.client,
            page_size=self.options.page_size,
            concurrency=self.options.concurrency,
            on_repository=on_repository,
            known=lambda repository, tag: tag in self._indexed.get(repository, {}),
        )
        await self._flush()
        summary = self.summary
        summary.catalog_complete = result.catalog_complete
        summary.repositories, summary.tags = result.repositories, result.tags
        summary.invalid_names = result.invalid_names
        if result.catalog_error:
            self._error(result.catalog_error)
        await self._deletions(result, seen, indexed_tags)
        index_duration = time.monotonic() - started_clock
        described = None
        if not self.options.dry_run:
            described = await describe_pending(
                self.db,
                self.client,
                concurrency=self.options.concurrency,
                on_page=self.progress.images_described,
            )
            for error in described.errors:
                self._error(error)
        return SyncReport(
            summary=summary,
            plans=self.plans,
            requests=self.client.stats.requests - requests_before,
            duration=time.monotonic() - started_clock,
            index_duration=index_duration,
            started_at=self.started,
            describe=described,
        )

    async def _deletions(self, result: WalkResult, seen: set[str], indexed_tags: int) -> None:
        """Judge the walk's deletions as a whole, then apply them (or list them, dry)."""
        summary = self.summary
        if result.catalog_complete:
            for name, tags in self._indexed.items():
                if name not in seen:
                    self.pending.append(plan_missing(name, tags, self.started, self.clock()))
        verdict = judge_deletions(
            [p for p in self.pending if not p.empty],
            strategy_deletes=self.options.deletes,
            catalog_complete=result.catalog_complete,
            walk_failed=result.catalog_error is not None,
            indexed_tags=indexed_tags,
            max_share=self.options.max_delete_share,
            allow_mass_delete=self.options.allow_mass_delete,
        )
        summary.deletions = verdict.reason or (
            f"{verdict.tags} tags and {verdict.repositories} repositories deleted"
        )
        if verdict.allowed:
            for plan in self.pending:
                if self.options.dry_run:
                    self.plans.append(plan)
                    summary.removed_tags += len(plan.removals)
                    summary.removed_repositories += int(plan.remove_repository)
                elif not plan.empty:
                    await self._apply_deletions(plan)
        elif verdict.tags or verdict.repositories:
            log.warning(
                "sync: deletions not applied: %s",
                verdict.reason,
                extra={"task": "sync", "reason": verdict.reason},
            )

    def _error(self, message: str) -> None:
        log.warning("sync: %s", message, extra={"task": "sync", "error": message})
        if len(self.summary.errors) < MAX_ERRORS_KEPT:
            self.summary.errors.append(message)

    async def _repository(self, observed: Observed) -> None:
        if observed.error:
            self.summary.unknown_repositories += 1
            self._error(observed.error)
        indexed = self._indexed.get(observed.name)
        plan = plan_repository(observed, indexed, self.started, self.clock())
        self.summary.left_to_events += len(plan.left_to_events)
        if self.progress.repository_done is not None:
            await self.progress.repository_done(observed, plan)
        if plan.removals or plan.remove_repository:
            self.pending.append(
                RepositoryPlan(
                    plan.repository,
                    removals=plan.removals,
                    remove_repository=plan.remove_repository,
                )
            )
        if not plan.upserts:
            return
        if self.options.dry_run:
            self.plans.append(RepositoryPlan(plan.repository, upserts=plan.upserts))
            self._count_upserts(plan)
            return
        try:
            images = await self._images(observed, {u.digest for u in plan.upserts})
        except Exception as exc:  # one repository's trouble never ends the sync
            self.summary.unknown_repositories += 1
            self._error(f"{observed.name}: {type(exc).__name__}: {exc}")
            return
        self._ready.append((plan, images))
        if len(self._ready) >= UPSERT_BATCH:
            await self._flush()

    async def _flush(self) -> None:
        """Apply the upserts of the repositories walked so far, in one short transaction."""
        async with self._flush_lock:
            batch, self._ready = self._ready, []
            if not batch:
                return
            try:
                await self._apply_upserts(batch)
            except Exception as exc:  # a failed batch leaves its repositories for next time
                self.summary.unknown_repositories += len(batch)
                self._error(f"applying {len(batch)} repositories failed: {exc}")

    def _count_upserts(self, plan: RepositoryPlan) -> None:
        for upsert in plan.upserts:
            if upsert.previous_digest is None:
                self.summary.added += 1
            else:
                self.summary.moved += 1

    async def _images(self, observed: Observed, digests: set[str]) -> dict[str, ImageInfo]:
        """These digests' images: from the cache, from the index, else from their manifests."""
        found: dict[str, ImageInfo] = {}
        for digest in digests:
            cached = self.images.get(digest)
            if cached is not None:
                found[digest] = cached
        missing = (digests - found.keys()) & self._known_digests
        if missing:
            async with self.db.read() as session:
                for digest, image in (await store.known_images(session, missing)).items():
                    self.images.put(image)
                    found[digest] = image

        async def one(digest: str) -> ImageInfo:
            # From the manifest alone: the config is read after the walk (sync.describe).
            manifest = observed.manifests.get(digest)
            if manifest is None:
                manifest = await self.client.get_manifest(observed.name, digest)
            return from_manifest(manifest)

        for image in await asyncio.gather(*(one(d) for d in sorted(digests - found.keys()))):
            if image.described:
                self.images.put(image)
            found[image.digest] = image
        return found

    async def _busy(self, session: AsyncSession, repositories: list[str]) -> set[str]:
        """Repositories that received a push or delete since the walk started: left to the
        events. Receive time is Portside's clock, so this window ends with the walk; pulls
        change no tag and never hold a repository back."""
        rows = await session.scalars(
            select(RegistryEvent.repository)
            .where(
                RegistryEvent.repository.in_(repositories),
                RegistryEvent.action.in_(("push", "delete")),
                RegistryEvent.received_at >= self.started,
            )
            .distinct()
        )
        return set(rows.all())

    async def _apply_upserts(
        self, batch: list[tuple[RepositoryPlan, dict[str, ImageInfo]]]
    ) -> None:
        now = self.clock()
        names = [plan.repository for plan, _ in batch]
        async with self.db.write() as session:
            busy = await self._busy(session, names)
            batch = [item for item in batch if item[0].repository not in busy]
            self.summary.left_to_events += sum(
                len(plan.upserts) for plan in [p for p, _ in batch] if plan.repository in busy
            )
            writes = IndexWrites(session, now)
            origin = Origin(SYNC_ACTOR, now, source="sync")
            repos = await writes.create_repositories(
                self._registry_id, {plan.repository: origin for plan, _ in batch}
            )
            for plan, images in batch:
                self._upsert_tags(writes, repos[plan.repository], plan, images, origin)
            # New tags and the activities in one statement each (the ORM would insert them
            # one by one, to read back ids nothing here needs).
            await writes.finish()

    def _upsert_tags(
        self,
        writes: IndexWrites,
        repo: Repository,
        plan: RepositoryPlan,
        images: dict[str, ImageInfo],
        origin: Origin,
    ) -> None:
        """Moved tags are changed in place; new ones wait for the batch's one insert."""
        tags = {t.name: t for t in repo.tags}
        for upsert in plan.upserts:
            tag = tags.get(upsert.tag)
            pointing = Pointing(upsert.tag, images[upsert.digest], upsert.previous_digest, origin)
            if tag is not None and left_to_events(tag.source_at, self.started, origin.at):
                self.summary.left_to_events += 1
                continue
            if tag is None:
                writes.point_new(repo, pointing)
                self.summary.added += 1
            elif tag.digest != upsert.digest:
                writes.point(repo, tags, pointing)
                self.summary.moved += 1

    async def _apply_deletions(self, plan: RepositoryPlan) -> None:
        now = self.clock()
        async with self.db.write() as session:
            if await self._busy(session, [plan.repository]):
                self.summary.left_to_events += len(plan.removals)
                return
            repo = await session.scalar(
                select(Repository)
                .where(Repository.name == plan.repository)
                .options(selectinload(Repository.tags))
            )
            if repo is None:
                return
            writes = IndexWrites(session, now)
            origin = Origin(SYNC_ACTOR, now, source="sync")
            tags = {t.name: t for t in repo.tags}
            for removal in plan.removals:
                tag = tags.get(removal.tag)
                if (
                    tag is None
                    or tag.digest != removal.digest
                    or left_to_events(tag.source_at, self.started, now)
                ):
                    continue
                writes.remove(repo, tag, origin)
                self.summary.removed_tags += 1
            if plan.remove_repository and not repo.tags:
                await writes.drop_repository(repo, origin)
                self.summary.removed_repositories += 1
            await writes.finish()


async def _snapshot(session: AsyncSession) -> dict[str, dict[str, TagFacts]]:
    """The index's repositories and tags (names, digests, times): what the walk compares to."""
    rows = await session.execute(
        select(Repository.name, Tag.name, Tag.digest, Tag.source_at, Tag.pulled_at).outerjoin(
            Tag, Tag.repository_id == Repository.id
        )
    )
    snapshot: dict[str, dict[str, TagFacts]] = {}
    for repo, tag, digest, source_at, pulled_at in rows.all():
        tags = snapshot.setdefault(repo, {})
        if tag is not None:
            tags[tag] = TagFacts(name=tag, digest=digest, source_at=source_at, pulled_at=pulled_at)
    return snapshot
