"""Which webhooks an activity goes to, and what they receive (pure)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from portside.index.names import namespace_of

# Activity kinds -> the webhook event kinds operators subscribe to.
KINDS = {
    "tag.push": "push",
    "tag.delete": "delete",
    "repository.delete": "delete",
    "scan.completed": "scan-completed",
    "scan.new-vulnerabilities": "new-vulnerabilities",
}


@dataclass(frozen=True)
class Hook:
    id: int
    namespaces: str
    kinds: frozenset[str]


@dataclass(frozen=True)
class ActivityFacts:
    id: int
    kind: str
    at: str
    actor: str | None
    repository: str | None
    tag: str | None
    digest: str | None
    details: dict[str, Any]


def targets(activity: ActivityFacts, hooks: list[Hook]) -> list[int]:
    """The hooks (ids) subscribed to this activity's kind and namespace."""
    kind = KINDS.get(activity.kind)
    if kind is None or activity.repository is None:
        return []
    namespace = namespace_of(activity.repository)
    return [
        hook.id
        for hook in hooks
        if kind in hook.kinds and fnmatch.fnmatchcase(namespace, hook.namespaces)
    ]


def payload(activity: ActivityFacts) -> dict[str, Any]:
    return {
        "event": KINDS[activity.kind],
        "activity": activity.kind,
        "id": activity.id,
        "at": activity.at,
        "actor": activity.actor,
        "repository": activity.repository,
        "tag": activity.tag,
        "digest": activity.digest,
        "details": activity.details,
    }
