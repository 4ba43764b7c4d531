"""The index's writes: every change to repositories and tags, each recording its activity.

The events task, the sync and deletions (the garbage collector's too) change the index only
through :class:`IndexWrites`, one per write transaction:

- :meth:`~IndexWrites.create_repositories`: namespaces and repositories as needed
  (``repository.create`` for each one created);
- :meth:`~IndexWrites.point` / :meth:`~IndexWrites.point_new`: create or move a tag onto an
  image (``tag.push``); its scan state then follows the digest's scan
  (:func:`portside.security.scanning.queue.follow_digests`, at :meth:`~IndexWrites.finish`);
- :meth:`~IndexWrites.complete_push` and :meth:`~IndexWrites.pulled`: fill what a late push
  event knows, move a pull time (no activity: nothing changed hands);
- :meth:`~IndexWrites.remove`: remove a tag (``tag.delete``);
- :meth:`~IndexWrites.drop_if_emptied` / :meth:`~IndexWrites.drop_repository`: drop a
  repository that lost its last tag, or a whole one (``repository.delete``).

What can be batched is: new tags and the activities are inserted with one statement each at
:meth:`~IndexWrites.finish`, in the order they were recorded. The decisions (what to change)
are the callers'; nothing here decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.models import Repository, Tag
from portside.index import store
from portside.index.vocabulary import ActivityKind, TagScanState
from portside.registry.images import ImageInfo
from portside.security.scanning.queue import follow_digests


@dataclass(frozen=True)
class Origin:
    """Who made a change and when, as its activity records it."""

    actor: str | None
    at: datetime
    source: str | None = None  # in the activity's details when set ("sync", "portside")


@dataclass(frozen=True)
class Pointing:
    """Point a repository's tag at an image (a new tag, or one that moves)."""

    tag: str
    image: ImageInfo
    previous_digest: str | None  # None: a new tag
    origin: Origin
    # A push event: its queue position, and the actor and time it recorded as the tag's
    # author and push time. None: the sync observed it (no author, no push time).
    seq: int | None = None


class IndexWrites:
    """One write transaction's changes to the index; :meth:`finish` writes what waits."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self.session = session
        self.now = now
        self._activities: list[dict[str, Any]] = []
        self._new_tags: list[dict[str, Any]] = []
        self._pointed: set[str] = set()  # digests tags were pointed at
        self._emptied: dict[int, tuple[Repository, Origin, dict[str, Any]]] = {}

    def _record(self, kind: ActivityKind, origin: Origin, **fields: Any) -> None:
        if origin.source is not None:
            fields["source"] = origin.source
        self._activities.append(store.activity(kind, origin.at, actor=origin.actor, **fields))

    async def create_repositories(
        self,
        registry_id: int,
        origins: Mapping[str, Origin],
        *,
        with_tags: bool = True,
    ) -> dict[str, Repository]:
        """These repositories (and namespaces) by name, created as needed; each one created
        records ``repository.create`` with its origin."""
        repos, created = await store.ensure_repositories(
            self.session, registry_id, origins, self.now, with_tags=with_tags
        )
        for name in sorted(created):
            self._record(ActivityKind.REPOSITORY_CREATE, origins[name], repository=name)
        return repos

    def point(self, repo: Repository, tags: dict[str, Tag], pointing: Pointing) -> Tag:
        """Create (an ORM row, added to ``tags``) or move a tag onto an image."""
        tag = tags.get(pointing.tag)
        if tag is None:
            tag = Tag(
                repository_id=repo.id,
                name=pointing.tag,
                created_at=self.now,
                scan_state=TagScanState.PENDING.value,
                platforms=[],
            )
            self.session.add(tag)
            tags[pointing.tag] = tag
        store.apply_image(tag, pointing.image)
        tag.source_at = pointing.origin.at
        tag.source_seq = pointing.seq
        if pointing.seq is not None:
            tag.author = pointing.origin.actor
            tag.pushed_at = pointing.origin.at
        tag.updated_at = self.now
        self._pointed_at(repo, pointing)
        return tag

    def point_new(self, repo: Repository, pointing: Pointing) -> None:
        """A new tag, inserted with the transaction's other new tags in one statement at
        :meth:`finish` (for many tags: nothing reads it back before then)."""
        row = store.new_tag(repo.id, pointing.tag, pointing.image, self.now)
        row["source_at"] = pointing.origin.at
        if pointing.seq is not None:
            row.update(
                source_seq=pointing.seq,
                author=pointing.origin.actor,
                pushed_at=pointing.origin.at,
            )
        self._new_tags.append(row)
        self._pointed_at(repo, pointing)

    def _pointed_at(self, repo: Repository, pointing: Pointing) -> None:
        repo.updated_at = self.now
        self._pointed.add(pointing.image.digest)
        self._record(
            ActivityKind.TAG_PUSH,
            pointing.origin,
            repository=repo.name,
            tag=pointing.tag,
            digest=pointing.image.digest,
            previous_digest=pointing.previous_digest,
        )

    def complete_push(self, tag: Tag, actor: str | None, pushed_at: datetime | None) -> None:
        """What a late push of the tag's current digest knows and the row lacks."""
        if actor is not None:
            tag.author = actor
        if pushed_at is not None:
            tag.pushed_at = pushed_at
        tag.updated_at = self.now

    def pulled(self, tag: Tag, at: datetime) -> None:
        tag.pulled_at = at

    def remove(self, repo: Repository, tag: Tag, origin: Origin) -> None:
        """Remove a tag (``tag.delete``); the repository is not dropped here (see
        :meth:`drop_if_emptied`)."""
        if tag in self.session.new:
            self.session.expunge(tag)
        elif "tags" not in inspect(repo).unloaded:
            repo.tags.remove(tag)  # the loaded collection deletes its orphan
        else:
            self.session.sync_session.delete(tag)
        repo.updated_at = self.now
        self._record(
            ActivityKind.TAG_DELETE,
            origin,
            repository=repo.name,
            tag=tag.name,
            digest=tag.digest,
        )

    def drop_if_emptied(self, repo: Repository, origin: Origin, **details: Any) -> None:
        """At :meth:`finish`, drop the repository if it has no tag left
        (``repository.delete`` with ``details``)."""
        self._emptied.setdefault(repo.id, (repo, origin, details))

    async def drop_repository(self, repo: Repository, origin: Origin, **details: Any) -> None:
        """Drop a repository and whatever tags it has (``repository.delete``)."""
        await self.session.delete(repo)
        self._record(ActivityKind.REPOSITORY_DELETE, origin, repository=repo.name, **details)

    async def finish(self) -> None:
        """Insert the new tags, set the pointed tags' scan states from their digests', drop
        the emptied repositories, insert the activities."""
        session = self.session
        if self._new_tags:
            await session.execute(insert(Tag), self._new_tags)
        await session.flush()
        # A tag pointed at a digest shows that digest's scan, from the start.
        await follow_digests(session, self._pointed)
        for repo, origin, details in self._emptied.values():
            if not await store.has_tags(session, repo.id):
                await self.drop_repository(repo, origin, **details)
        await store.insert_activities(session, self._activities)
        await session.flush()
        self._activities, self._new_tags = [], []
        self._pointed, self._emptied = set(), {}
