"""What a sync changes in the index, given what the walk saw (pure functions).

Safety first: a repository the walk could not read completely is *unknown*, never empty; a tag
or repository that an event touched after the walk started is left to the events; deletions
are planned separately from additions, so the caller can hold them back as a whole.

"Left to the events" is a window, never a pin: only a change dated between the walk's start and
the moment of planning counts (:func:`left_to_events`). A tag dated in the future (a sender's
clock, or a row written before event times were bounded by their receive time) is not, so a
walk that sees the registry disagree after the window always wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portside.index.facts import TagFacts


@dataclass(frozen=True)
class Observed:
    """One repository as the walk saw it."""

    name: str
    tags: dict[str, str] | None  # tag -> digest; None: the walk failed for this repository
    unknown_tags: frozenset[str] = frozenset()  # listed, but vanished before their HEAD
    error: str | None = None
    # Manifests the walk fetched whole (tags the index did not have), by digest.
    manifests: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # "repository:tag" of listed tags that are not valid names: skipped, like absent ones.
    invalid: tuple[str, ...] = ()


@dataclass(frozen=True)
class Upsert:
    tag: str
    digest: str
    previous_digest: str | None  # None: a new tag


@dataclass(frozen=True)
class Removal:
    tag: str
    digest: str


@dataclass(frozen=True)
class RepositoryPlan:
    repository: str
    upserts: tuple[Upsert, ...] = ()
    removals: tuple[Removal, ...] = ()
    remove_repository: bool = False
    left_to_events: tuple[str, ...] = ()  # tags an event changed after the walk started

    @property
    def empty(self) -> bool:
        return not (self.upserts or self.removals or self.remove_repository)


def left_to_events(source_at: datetime, walk_started: datetime, now: datetime) -> bool:
    """Whether a tag changed at ``source_at`` is newer than what a walk started at
    ``walk_started`` saw, judged at ``now``: inside the window, and not in the future."""
    return walk_started <= source_at <= now


def plan_repository(
    observed: Observed,
    indexed: dict[str, TagFacts] | None,
    walk_started: datetime,
    now: datetime,
) -> RepositoryPlan:
    """Changes for one repository the catalog listed. ``indexed`` is None if it is new."""
    if observed.tags is None:
        return RepositoryPlan(observed.name)
    current = indexed or {}
    recent = tuple(
        sorted(t.name for t in current.values() if left_to_events(t.source_at, walk_started, now))
    )
    upserts = tuple(
        Upsert(tag, digest, current[tag].digest if tag in current else None)
        for tag, digest in sorted(observed.tags.items())
        if tag not in recent and (tag not in current or current[tag].digest != digest)
    )
    removals = tuple(
        Removal(t.name, t.digest)
        for t in sorted(current.values(), key=lambda t: t.name)
        if t.name not in observed.tags
        and t.name not in observed.unknown_tags
        and t.name not in recent
    )
    emptied = indexed is not None and not observed.tags and not observed.unknown_tags and not recent
    return RepositoryPlan(
        observed.name,
        upserts=upserts,
        removals=removals,
        remove_repository=emptied,
        left_to_events=recent,
    )


def plan_missing(
    name: str, indexed: dict[str, TagFacts], walk_started: datetime, now: datetime
) -> RepositoryPlan:
    """A repository in the index that the (complete) catalog no longer lists."""
    recent = tuple(
        sorted(t.name for t in indexed.values() if left_to_events(t.source_at, walk_started, now))
    )
    if recent:
        return RepositoryPlan(name, left_to_events=recent)
    removals = tuple(
        Removal(t.name, t.digest) for t in sorted(indexed.values(), key=lambda t: t.name)
    )
    return RepositoryPlan(name, removals=removals, remove_repository=True)


@dataclass
class DeletionVerdict:
    allowed: bool
    reason: str = ""
    tags: int = 0
    repositories: int = 0


def judge_deletions(
    plans: list[RepositoryPlan],
    *,
    strategy_deletes: bool,
    catalog_complete: bool,
    walk_failed: bool,
    indexed_tags: int,
    max_share: float,
    allow_mass_delete: bool,
) -> DeletionVerdict:
    """Whether the planned deletions may be applied, as a whole."""
    tags = sum(len(p.removals) for p in plans)
    repositories = sum(1 for p in plans if p.remove_repository)
    verdict = DeletionVerdict(allowed=False, tags=tags, repositories=repositories)
    if not tags and not repositories:
        verdict.reason = "nothing to delete"
    elif not strategy_deletes:
        verdict.reason = "the strategy never deletes"
    elif walk_failed or not catalog_complete:
        verdict.reason = "the walk did not complete: nothing is deleted"
    elif indexed_tags and tags > max_share * indexed_tags and not allow_mass_delete:
        verdict.reason = (
            f"held back: {tags} of {indexed_tags} tags ({tags / indexed_tags:.0%}) would go, "
            f"over the limit of {max_share:.0%}; run `portside sync --allow-mass-delete` "
            "if this is right"
        )
    else:
        verdict.allowed = True
    return verdict


@dataclass
class SyncSummary:
    repositories: int = 0
    tags: int = 0
    added: int = 0
    moved: int = 0
    removed_tags: int = 0
    removed_repositories: int = 0
    left_to_events: int = 0
    unknown_repositories: int = 0
    invalid_names: int = 0  # repositories and tags the registry listed that are not valid names
    catalog_complete: bool = False
    deletions: str = ""
    errors: list[str] = field(default_factory=list)
