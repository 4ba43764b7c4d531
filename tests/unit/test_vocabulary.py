"""The index's vocabulary (issue 11, item 1): stored values unchanged, every activity kind
mapped for outgoing webhooks (sent or explicitly not), the two scan states kept apart."""

from portside.index.vocabulary import ActivityKind, ScanTargetStatus, TagScanState
from portside.outgoing.fanout import KINDS, ActivityFacts, Hook, payload, targets, webhook_kind
from portside.security.scanning.queue import tag_state


def test_the_stored_values_are_unchanged() -> None:
    assert [k.value for k in ActivityKind] == [
        "tag.push",
        "tag.delete",
        "repository.create",
        "repository.delete",
        "scan.completed",
        "scan.new-vulnerabilities",
    ]
    assert [s.value for s in TagScanState] == ["pending", "in progress", "done", "failed"]
    assert [s.value for s in ScanTargetStatus] == ["pending", "progress", "done", "failed"]


def test_every_target_status_shows_as_a_tag_state() -> None:
    assert {tag_state(s) for s in ScanTargetStatus} == set(TagScanState)


def test_every_activity_kind_is_mapped_for_webhooks() -> None:
    assert set(KINDS) == set(ActivityKind)
    assert webhook_kind("tag.push") == "push"
    assert webhook_kind("repository.create") is None
    assert webhook_kind("tag.pushed") is None  # an unknown stored kind is not sent


def test_fanout_by_kind() -> None:
    hooks = [Hook(1, "*", frozenset({"push"})), Hook(2, "ns", frozenset({"new-vulnerabilities"}))]

    def facts(kind: str) -> ActivityFacts:
        return ActivityFacts(1, kind, "2026-11-30T12:00:00Z", "alice", "ns/app", "1", None, {})

    assert targets(facts(ActivityKind.TAG_PUSH), hooks) == [1]
    assert targets(facts(ActivityKind.SCAN_NEW_VULNERABILITIES), hooks) == [2]
    assert targets(facts(ActivityKind.REPOSITORY_CREATE), hooks) == []
    assert payload(facts(ActivityKind.SCAN_COMPLETED))["event"] == "scan-completed"
