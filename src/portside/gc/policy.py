"""Which tags the garbage collector removes (pure).

A tag goes when it matches ``include`` (if set) and not ``exclude``, was neither pushed nor
pulled for ``older_than``, and is not among the ``keep_latest`` newest tags *of its
repository* (Portus counted them globally, #2241). Since the registry deletes manifests, not
tags, a digest goes only when every tag on it goes (Portus deleted `latest` with a snapshot,
#2238), and a tag pulled within the window always stays (#2330).

A tag with no push time (the sync found it before, or without, its push event: every image
that existed before Portside) is judged by the best time known: when Portside first saw it
(``tags.created_at``), which its push cannot be later than. The image's creation time is only
a lower bound (reproducible builds date images 1970), so it is used only when nothing else
is known.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TagAge:
    repository: str
    name: str
    digest: str
    pushed_at: datetime | None
    pulled_at: datetime | None
    first_seen: datetime | None = None  # tags.created_at
    image_created: datetime | None = None

    def pushed(self) -> datetime | None:
        """The push time, else the best time known (see the module's docstring)."""
        return self.pushed_at or self.first_seen or self.image_created

    def last_used(self) -> datetime | None:
        times = [t for t in (self.pushed(), self.pulled_at) if t is not None]
        return max(times) if times else None


@dataclass(frozen=True)
class Rules:
    older_than: timedelta
    keep_latest: int
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None


def _eligible(tag: TagAge, rules: Rules, cutoff: datetime) -> bool:
    ref = f"{tag.repository}:{tag.name}"
    if rules.include is not None and not rules.include.search(ref):
        return False
    if rules.exclude is not None and rules.exclude.search(ref):
        return False
    used = tag.last_used()
    return used is not None and used < cutoff


def choose(tags: list[TagAge], rules: Rules, now: datetime) -> list[TagAge]:
    """The tags to remove, by repository then name."""
    cutoff = now - rules.older_than
    by_repo: dict[str, list[TagAge]] = defaultdict(list)
    for tag in tags:
        by_repo[tag.repository].append(tag)
    chosen: list[TagAge] = []
    for repository in sorted(by_repo):
        repo_tags = by_repo[repository]
        newest = sorted(
            repo_tags,
            key=lambda t: (t.pushed() is not None, t.pushed() or now, t.name),
            reverse=True,
        )
        kept = {t.name for t in newest[: rules.keep_latest]}
        candidates = {
            t.name for t in repo_tags if t.name not in kept and _eligible(t, rules, cutoff)
        }
        by_digest: dict[str, list[TagAge]] = defaultdict(list)
        for tag in repo_tags:
            by_digest[tag.digest].append(tag)
        for group in by_digest.values():
            if all(t.name in candidates for t in group):
                chosen.extend(group)
    return sorted(chosen, key=lambda t: (t.repository, t.name))
