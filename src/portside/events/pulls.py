"""Pull events applied without the ORM: one write per touched tag, in one hand-off.

Pulls are most of a busy registry's notifications, and all they change is ``tags.pulled_at``.
A chunk's pulls of one repository are folded in memory (:func:`decide.fold_pulls`, the same
decision :func:`decide.decide_pull` makes one event at a time) and written as one
``UPDATE tags SET pulled_at`` per touched tag (executemany), with the events marked done, in
one write transaction: on SQLite one hand-off to a worker thread
(:meth:`Database.run_write`), so the write lock the webhook waits on is held briefly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Connection

from portside.db.models import Registry, RegistryEvent, Repository, Tag
from portside.events import queue
from portside.events.decide import EventFacts, fold_pulls
from portside.index.facts import TagFacts
from portside.index.store import DEFAULT_REGISTRY


@dataclass(frozen=True)
class PullsApplied:
    done: int  # events marked done
    changes: int  # events that moved a tag's pulled_at


def _facts(event: RegistryEvent) -> EventFacts:
    return EventFacts(
        action=event.action,
        tag=event.tag,
        digest=event.digest,
        actor=event.actor,
        occurred_at=event.occurred_at,
        seq=event.id,
        received_at=event.received_at,
    )


@dataclass(frozen=True)
class _Statements:
    repositories: Any
    by_name: Any
    by_digest: Any
    touch: Any


@functools.cache
def _statements() -> _Statements:
    """Built once (a hot path); parameters are bound per call."""
    table = cast(Table, Tag.__table__)
    columns = (Tag.id, Tag.repository_id, Tag.name, Tag.digest, Tag.source_at, Tag.pulled_at)
    in_repositories = Tag.repository_id.in_(bindparam("repositories", expanding=True))
    return _Statements(
        repositories=select(Repository.id, Repository.name)
        .join(Registry, Registry.id == Repository.registry_id)
        .where(
            Registry.name == DEFAULT_REGISTRY,
            Repository.name.in_(bindparam("names", expanding=True)),
        ),
        by_name=select(*columns).where(
            in_repositories, Tag.name.in_(bindparam("names", expanding=True))
        ),
        by_digest=select(*columns).where(
            in_repositories, Tag.digest.in_(bindparam("digests", expanding=True))
        ),
        touch=update(table)
        .where(table.c.id == bindparam("tag_id"))
        .values(pulled_at=bindparam("pulled", type_=table.c.pulled_at.type)),
    )


def apply_pulls(
    connection: Connection,
    by_repo: dict[str, list[RegistryEvent]],
    *,
    resolution: timedelta,
    worker: str,
    now: datetime,
) -> PullsApplied:
    """Apply these pull events (by repository, in queue order) and mark them done. Run in a
    write transaction (:meth:`Database.run_write`). Raises :class:`queue.LeaseLost` (the
    transaction rolls back) when this worker no longer holds all of them."""
    statements = _statements()
    ids = [event.id for events in by_repo.values() for event in events]
    repo_ids = {
        str(row.name): int(row.id)
        for row in connection.execute(statements.repositories, {"names": sorted(by_repo)})
    }
    wanted = {repo_ids[name]: events for name, events in by_repo.items() if name in repo_ids}
    names = {e.tag for events in wanted.values() for e in events if e.tag}
    digests = {e.digest for events in wanted.values() for e in events if not e.tag and e.digest}
    tags: dict[int, dict[str, TagFacts]] = {repo_id: {} for repo_id in wanted}
    tag_ids: dict[tuple[int, str], int] = {}
    queries = []
    if names:
        queries.append((statements.by_name, {"names": sorted(names)}))
    if digests:
        queries.append((statements.by_digest, {"digests": sorted(digests)}))
    for statement, params in queries:
        for row in connection.execute(statement, {"repositories": sorted(wanted), **params}):
            tags[row.repository_id][row.name] = TagFacts(
                name=row.name, digest=row.digest, source_at=row.source_at, pulled_at=row.pulled_at
            )
            tag_ids[(row.repository_id, row.name)] = row.id
    writes: list[dict[str, object]] = []
    changes = 0
    for repo_id, events in wanted.items():
        pulled, touching = fold_pulls([_facts(e) for e in events], tags[repo_id], resolution)
        changes += touching
        for name, at in sorted(pulled.items()):
            writes.append({"tag_id": tag_ids[(repo_id, name)], "pulled": at})
    if writes:
        connection.execute(statements.touch, writes)
    held = queue.complete_on(connection, ids, worker=worker, now=now)
    if held != len(ids):
        raise queue.LeaseLost(
            f"{len(ids) - held} of {len(ids)} events were taken over by another worker"
        )
    return PullsApplied(done=len(ids), changes=changes)
