"""The garbage-collector task and `portside gc`: choose (pure), then delete per digest."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from portside.background.runtime import TaskRun
from portside.db.engine import Database
from portside.db.models import Repository, Tag
from portside.deletion import delete_digests
from portside.gc.policy import Rules, TagAge, Verdict, explain
from portside.registry.client import RegistryClient
from portside.settings import GcTaskSettings

log = logging.getLogger(__name__)

GC_ACTOR = "portside-gc"


def rules_of(settings: GcTaskSettings) -> Rules:
    return Rules(
        older_than=timedelta(days=settings.older_than),
        keep_latest=settings.keep_latest,
        include=re.compile(settings.include) if settings.include else None,
        exclude=re.compile(settings.exclude) if settings.exclude else None,
    )


async def candidates(db: Database, rules: Rules, now: datetime) -> list[TagAge]:
    return [v.tag for v in await verdicts(db, rules, now) if v.goes]


async def verdicts(db: Database, rules: Rules, now: datetime) -> list[Verdict]:
    """Every indexed tag's verdict under ``rules``."""
    async with db.read() as session:
        rows = await session.execute(
            select(
                Repository.name,
                Tag.name,
                Tag.digest,
                Tag.pushed_at,
                Tag.pulled_at,
                Tag.created_at,
                Tag.image_created_at,
            ).join(Tag, Tag.repository_id == Repository.id)
        )
        tags = [TagAge(*row) for row in rows.all()]
    return explain(tags, rules, now)


async def collect(db: Database, client: RegistryClient, rules: Rules, now: datetime) -> list[str]:
    """Delete the selected tags, digest by digest; returns repository:tag of what went."""
    chosen = await candidates(db, rules, now)
    by_repo: dict[str, set[str]] = {}
    for tag in chosen:
        by_repo.setdefault(tag.repository, set()).add(tag.digest)
    gone: list[str] = []
    for repository, digests in sorted(by_repo.items()):
        deleted = await delete_digests(db, client, repository, digests, actor=GC_ACTOR)
        gone.extend(f"{repository}:{t}" for t in deleted.tags)
    return gone


class GcTask:
    name = "gc"

    def __init__(
        self,
        db: Database,
        client: RegistryClient,
        settings: GcTaskSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.client = client
        self.rules = rules_of(settings)
        self.interval = settings.interval
        self.clock = clock

    async def run_once(self) -> TaskRun:
        gone = await collect(self.db, self.client, self.rules, self.clock())
        if gone:
            log.info(
                "gc: deleted %d tags: %s",
                len(gone),
                ", ".join(gone[:20]),
                extra={"task": "gc", "deleted": len(gone)},
            )
        return TaskRun(changed=bool(gone), details={"deleted": len(gone), "tags": gone[:100]})
