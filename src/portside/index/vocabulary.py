"""The index's words: activity kinds and scan states, stored as these strings.

Two scan-state enums, because they are two concepts that share most of their words: a scan
*target* (one row per digest in ``scan_targets``) is a leased queue item, ``progress`` while a
worker holds it; a *tag*'s ``scan_state`` is what the pages show for the digest it names, and
says ``in progress`` for the same moment
(:func:`portside.security.scanning.queue.tag_state` maps one to the other). The stored values
are unchanged from before the enums.
"""

from __future__ import annotations

from enum import StrEnum


class ActivityKind(StrEnum):
    """``activities.kind``: what happened."""

    TAG_PUSH = "tag.push"
    TAG_DELETE = "tag.delete"
    REPOSITORY_CREATE = "repository.create"
    REPOSITORY_DELETE = "repository.delete"
    SCAN_COMPLETED = "scan.completed"
    SCAN_NEW_VULNERABILITIES = "scan.new-vulnerabilities"


class TagScanState(StrEnum):
    """``tags.scan_state``: the scan of the digest the tag names, as shown."""

    PENDING = "pending"
    IN_PROGRESS = "in progress"
    DONE = "done"
    FAILED = "failed"


class ScanTargetStatus(StrEnum):
    """``scan_targets.status``: a digest's place in the scan queue."""

    PENDING = "pending"
    PROGRESS = "progress"
    DONE = "done"
    FAILED = "failed"
