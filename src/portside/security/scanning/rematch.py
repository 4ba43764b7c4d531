"""Keeping findings current: after a vulnerability-data import, every stored package list is
matched again (no registry download), and new findings are recorded as activities.

The matching (:mod:`portside.security.scanning.rematch_matcher`) goes part by part, in this
process or, for many images, in worker processes (:mod:`portside.security.scanning.
rematch_workers`) while this process writes each part as it comes back."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update

from portside import cyclegc
from portside.db.engine import Database
from portside.db.models import ScanTarget
from portside.db.types import EncodedJSON, as_stored, compresses
from portside.index import store
from portside.index.vocabulary import ActivityKind, ScanTargetStatus
from portside.security import findings_store
from portside.security.scanning import rematch_workers
from portside.security.scanning.rematch_matcher import (
    Item,
    Matcher,
    Outcome,
    Part,
    external_findings,
)
from portside.security.scanning.rematch_workers import Workers
from portside.security.severity import ORDER

__all__ = [
    "SCANNER_ACTOR",
    "RematchResult",
    "describe_new",
    "external_findings",
    "rematch",
]

log = logging.getLogger(__name__)

SCANNER_ACTOR = "portside-scanner"


@dataclass
class RematchResult:
    images: int = 0
    changed: int = 0
    new_findings: Counter[str] = field(default_factory=Counter)


def describe_new(new: Counter[str]) -> str:
    return ", ".join(f"{new[level]} new {level}" for level in ORDER if new.get(level))


async def rematch(
    db: Database,
    now: datetime,
    changed_keys: set[tuple[str, str]] | None = None,
    *,
    workers: int = 0,
) -> RematchResult:
    """Match every scanned image again (only those touching ``changed_keys``, when given).

    With ``workers`` (``vulndb.rematch_workers``), a re-match of many images is matched in that
    many worker processes while this one writes (:mod:`portside.security.scanning.
    rematch_workers`); otherwise, and for an in-memory database, here, part after part.

    The cycle collector is paused meanwhile (:mod:`portside.cyclegc`): the index and the
    findings are millions of objects that it would walk again and again for nothing."""
    with cyclegc.paused():
        result = await _rematch(db, now, changed_keys, workers)
    if result.images:
        log.info(
            "re-matched %d images: %d changed (%s)",
            result.images,
            result.changed,
            describe_new(result.new_findings) or "nothing new",
            extra={
                "images": result.images,
                "changed": result.changed,
                "new_findings": dict(result.new_findings),
            },
        )
    return result


PART = 50  # images matched at once
# Changed images per write transaction: SQLite's write lock is let go between them. Each
# transaction rewrites most pages of the hub's indexes (their rows land all over them), so
# fewer, larger ones write far less: 975 MB for 1,000 images at 50, 574 MB at 100.
WRITE_CHUNK = 100
IN_FLIGHT = 2  # parts sent to each worker ahead
OWN_PART = 10  # images this process matches at a time beside workers (_shared)
MIN_FOR_WORKERS = 200  # fewer images are matched in this process (a worker takes ~2 s to start)


async def _rematch(
    db: Database, now: datetime, changed_keys: set[tuple[str, str]] | None, workers: int
) -> RematchResult:
    result = RematchResult()
    matcher = Matcher(changed_keys, compressed=compresses(db.dialect))
    writer = _Writer(db, now, result)
    items = await _items(db)
    parts = [items[start : start + PART] for start in range(0, len(items), PART)]
    if workers > 0 and len(items) >= MIN_FOR_WORKERS and rematch_workers.can_share(db.url):
        pool = await Workers(db.url, changed_keys, workers).start()
        try:
            parts = await _shared(pool, matcher, parts, writer)
        finally:
            await pool.stop()
    for part in parts:
        await writer.add(await matcher.part(db, part))
    await writer.flush()
    return result


async def _items(db: Database) -> list[Item]:
    """The scanned images, their packages and findings as stored (:func:`as_stored`): a
    worker decodes the packages, and most of a re-match finds the findings unchanged, which
    comparing stored forms tells without decoding them (:meth:`Matcher._outcome`)."""
    async with db.read() as session:
        rows = await session.execute(
            select(
                ScanTarget.id,
                ScanTarget.digest,
                ScanTarget.os,
                as_stored(db.dialect, ScanTarget.packages),
                as_stored(db.dialect, ScanTarget.findings),
            )
            .where(ScanTarget.status == ScanTargetStatus.DONE, ScanTarget.packages.is_not(None))
            .order_by(ScanTarget.id)
        )
        return [Item(*row) for row in rows.all()]


async def _shared(
    pool: Workers, matcher: Matcher, parts: list[list[Item]], writer: _Writer
) -> list[list[Item]]:
    """Match the parts in the worker processes and in this one, writing each as it is
    matched (:class:`_Sharing`); the images left to match here if a worker process died."""
    sharing = _Sharing(pool, matcher, writer)
    try:
        await sharing.run(parts)
    except BrokenProcessPool as exc:
        log.warning("re-match: a worker process died (%s); the rest is matched here", exc)
        return await sharing.left()
    finally:
        sharing.cancel()
    return []


class _Sharing:
    """The workers match parts from the front of the queue; this process writes the parts a
    worker sends back and, whenever none is waiting, matches from the back, OWN_PART images at
    a time: while it matches it neither writes what the workers send nor sends them more, and
    a worker left without a part waits. What is matched is written WRITE_CHUNK images at a
    time (:class:`_Writer`), and whenever this process would wait."""

    def __init__(self, pool: Workers, matcher: Matcher, writer: _Writer) -> None:
        self.pool, self.matcher, self.writer = pool, matcher, writer
        self.queue: deque[list[Item]] = deque()
        self.waiting: dict[asyncio.Future[Part], list[Item]] = {}

    async def run(self, parts: list[list[Item]]) -> None:
        self.queue.extend(parts)
        while self.queue or self.waiting:
            self._send()
            ready = [future for future in self.waiting if future.done()]
            if not ready and self.queue:
                await self._match_here()
                continue
            if not ready:
                await self.writer.flush()  # idle meanwhile
                await asyncio.wait(self.waiting, return_when=asyncio.FIRST_COMPLETED)
                # In the order sent: a worker's part may name groups it sent in an earlier one.
                ready = [future for future in self.waiting if future.done()]
            for future in ready:
                part = future.result()  # raises if its worker died; it stays waiting then
                del self.waiting[future]
                try:
                    self._send()  # before writing: a worker would wait meanwhile
                finally:  # written also when the pool broke meanwhile (then raised on)
                    await self.writer.add(part)
        await self.writer.flush()

    def _send(self) -> None:
        """Parts sent to the workers until each has IN_FLIGHT."""
        while self.queue and len(self.waiting) < IN_FLIGHT * self.pool.processes:
            # Taken off the queue once sent: a broken pool refuses it (then it is left).
            future = self.pool.submit(self.queue[0])
            self.waiting[future] = self.queue.popleft()

    async def _match_here(self) -> None:
        items = self.queue.pop()
        if len(items) > OWN_PART:  # the rest stays last in the queue
            self.queue.append(items[:-OWN_PART])
            items = items[-OWN_PART:]
        await self.writer.add(await self.matcher.part(self.writer.db, items))

    async def left(self) -> list[list[Item]]:
        """After a worker died: what was matched written, and the images not matched.
        The pool fails every part it holds: those are read, not cancelled (Python 3.11's pool,
        failing a part cancelled meanwhile, raises in its own thread)."""
        self.pool.broken = True
        await self.writer.flush()
        left = [*self.waiting.values(), *self.queue]
        for future in self.waiting:
            future.add_done_callback(_read_failure)
        self.waiting.clear()
        return left

    def cancel(self) -> None:
        for future in self.waiting:
            future.cancel()


def _read_failure(future: asyncio.Future[Part]) -> None:
    if not future.cancelled():
        future.exception()


_TARGETS: Table = ScanTarget.__table__  # type: ignore[assignment]
_STORE = (
    update(_TARGETS)
    .where(_TARGETS.c.id == bindparam("target"))
    .values(
        findings=bindparam("new_findings", type_=EncodedJSON()),
        counts=bindparam("new_counts", type_=_TARGETS.c.counts.type),
        matched_at=bindparam("new_matched_at", type_=_TARGETS.c.matched_at.type),
    )
)


class _Writer:
    """Writes the parts of one re-match as they are matched (:meth:`add`), WRITE_CHUNK
    changed images per transaction, and what is left (:meth:`flush`); keeps their groups' rows,
    each sent once by the matcher that found it
    (:class:`~portside.security.scanning.rematch_matcher.Part`)."""

    def __init__(self, db: Database, now: datetime, result: RematchResult) -> None:
        self.db, self.now, self.result = db, now, result
        self.groups: dict[str, findings_store.Group] = {}
        self.pending: list[Outcome] = []  # matched, not yet written

    async def add(self, part: Part) -> None:
        self.groups.update(part.groups)
        self.result.images += part.images
        self.result.changed += len(part.outcomes)
        self.pending += part.outcomes
        while len(self.pending) >= WRITE_CHUNK:
            chunk, self.pending = self.pending[:WRITE_CHUNK], self.pending[WRITE_CHUNK:]
            await self._write(chunk)

    async def flush(self) -> None:
        if self.pending:
            chunk, self.pending = self.pending, []
            await self._write(chunk)

    async def _write(self, chunk: list[Outcome]) -> None:
        """Store these images' changed findings and counts, and record the new findings as
        activities, in one transaction: each image's findings, counts, activities and hub rows
        together (so the webhook's writes, which go first on SQLite's write lock, wait for one
        transaction only, never for the whole re-match)."""
        now, result = self.now, self.result
        values = [
            {
                "target": o.id,
                "new_findings": o.stored,
                "new_counts": o.counts,
                "new_matched_at": now,
            }
            for o in chunk
        ]
        async with self.db.write() as session:
            await session.execute(_STORE, values)
            tags = await store.tags_on_digests(session, [o.digest for o in chunk if o.new_ids])
            activities = []
            for outcome in chunk:
                if outcome.new_ids:
                    result.new_findings.update(outcome.added)
                    activities += _new_activities(tags.get(outcome.digest, []), outcome, now)
            await store.insert_activities(session, activities)
            # The hub's rows, in the same transaction, for the changed targets only.
            await findings_store.store_groups(
                session, {o.id: o.groups for o in chunk}, self.groups, now
            )


def _new_activities(
    tags: list[tuple[str, str]], outcome: Outcome, now: datetime
) -> list[dict[str, Any]]:
    """An activity per tag of the digest, naming its new findings."""
    added = Counter(outcome.added)
    return [
        store.activity(
            ActivityKind.SCAN_NEW_VULNERABILITIES,
            now,
            actor=SCANNER_ACTOR,
            repository=repository,
            tag=tag,
            digest=outcome.digest,
            message=f"{describe_new(added)} in {repository}:{tag}",
            ids=outcome.new_ids,
        )
        for repository, tag in tags
    ]
