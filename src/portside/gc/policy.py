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


@dataclass(frozen=True)
class Verdict:
    """Whether a tag goes, and why (what `portside gc --dry-run` prints)."""

    tag: TagAge
    goes: bool
    reason: str


def _judge(tag: TagAge, rules: Rules, cutoff: datetime, kept: set[str]) -> str | None:
    """Why ``tag`` stays on its own account, or None when it may go."""
    ref = f"{tag.repository}:{tag.name}"
    if rules.include is not None and not rules.include.search(ref):
        return "not matched by include"
    if rules.exclude is not None and rules.exclude.search(ref):
        return "matched by exclude"
    if tag.name in kept:
        return f"among the {rules.keep_latest} newest of its repository (keep_latest)"
    used = tag.last_used()
    if used is None:
        return "no push, pull or first-seen time known"
    if used >= cutoff:
        what = "pulled" if used == tag.pulled_at else "pushed"
        return f"{what} {used:%Y-%m-%d}, within older_than"
    return None


def explain(tags: list[TagAge], rules: Rules, now: datetime) -> list[Verdict]:
    """Every tag's verdict, by repository then name."""
    cutoff = now - rules.older_than
    by_repo: dict[str, list[TagAge]] = defaultdict(list)
    for tag in tags:
        by_repo[tag.repository].append(tag)
    verdicts: list[Verdict] = []
    for repository in sorted(by_repo):
        repo_tags = by_repo[repository]
        newest = sorted(
            repo_tags,
            key=lambda t: (t.pushed() is not None, t.pushed() or now, t.name),
            reverse=True,
        )
        kept = {t.name for t in newest[: rules.keep_latest]}
        stays = {t.name: _judge(t, rules, cutoff, kept) for t in repo_tags}
        by_digest: dict[str, list[TagAge]] = defaultdict(list)
        for tag in repo_tags:
            by_digest[tag.digest].append(tag)
        for tag in sorted(repo_tags, key=lambda t: t.name):
            own = stays[tag.name]
            if own is not None:
                verdicts.append(Verdict(tag, False, own))
                continue
            staying = sorted(t.name for t in by_digest[tag.digest] if stays[t.name] is not None)
            if staying:
                reason = (
                    f"its digest stays with {', '.join(staying)} (the registry deletes digests)"
                )
                verdicts.append(Verdict(tag, False, reason))
            else:
                used = tag.last_used()
                assert used is not None
                verdicts.append(Verdict(tag, True, f"unused since {used:%Y-%m-%d}"))
    return verdicts


def choose(tags: list[TagAge], rules: Rules, now: datetime) -> list[TagAge]:
    """The tags to remove, by repository then name."""
    return [v.tag for v in explain(tags, rules, now) if v.goes]


def describe(rules: Rules) -> str:
    """The rules in one line, as the settings name them."""
    parts = [
        f"older_than {rules.older_than.days} days",
        f"keep_latest {rules.keep_latest} per repository",
    ]
    if rules.include is not None:
        parts.append(f"include /{rules.include.pattern}/")
    if rules.exclude is not None:
        parts.append(f"exclude /{rules.exclude.pattern}/")
    return "; ".join(parts)
