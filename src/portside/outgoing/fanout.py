"""Which webhooks an activity goes to, and what they receive (pure)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from portside.index.names import namespace_of
from portside.index.vocabulary import ActivityKind

# Every activity kind -> the webhook event kind operators subscribe to (None: not sent).
KINDS: dict[ActivityKind, str | None] = {
    ActivityKind.TAG_PUSH: "push",
    ActivityKind.TAG_DELETE: "delete",
    ActivityKind.REPOSITORY_CREATE: None,
    ActivityKind.REPOSITORY_DELETE: "delete",
    ActivityKind.SCAN_COMPLETED: "scan-completed",
    ActivityKind.SCAN_NEW_VULNERABILITIES: "new-vulnerabilities",
}


def webhook_kind(activity_kind: str) -> str | None:
    """The webhook event kind an activity is sent as (None: an unknown kind, or not sent)."""
    try:
        return KINDS[ActivityKind(activity_kind)]
    except ValueError:
        return None


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
    kind = webhook_kind(activity.kind)
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
        "event": webhook_kind(activity.kind),
        "activity": activity.kind,
        "id": activity.id,
        "at": activity.at,
        "actor": activity.actor,
        "repository": activity.repository,
        "tag": activity.tag,
        "digest": activity.digest,
        "details": activity.details,
    }
