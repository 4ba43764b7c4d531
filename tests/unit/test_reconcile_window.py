"""The sync's "left to the events" window (issue 10, item 2): a window, never a pin."""

from datetime import UTC, datetime, timedelta

from portside.index.facts import TagFacts
from portside.sync.reconcile import (
    Observed,
    Removal,
    Upsert,
    left_to_events,
    plan_missing,
    plan_repository,
)

STARTED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOW = STARTED + timedelta(minutes=5)
FAR = datetime(2999, 1, 1, tzinfo=UTC)
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def tag(digest: str, at: datetime) -> TagFacts:
    return TagFacts("1.0", digest, source_at=at, pulled_at=None)


def test_the_window_is_from_the_walks_start_to_now() -> None:
    assert left_to_events(STARTED + timedelta(minutes=1), STARTED, NOW)
    assert not left_to_events(STARTED - timedelta(seconds=1), STARTED, NOW)
    assert not left_to_events(NOW + timedelta(seconds=1), STARTED, NOW)
    assert not left_to_events(FAR, STARTED, NOW)


def test_a_tag_dated_in_the_future_is_corrected_by_the_walk() -> None:
    observed = Observed("team/app", {"1.0": A})
    plan = plan_repository(observed, {"1.0": tag(B, FAR)}, STARTED, NOW)
    assert plan.upserts == (Upsert("1.0", A, previous_digest=B),)
    assert plan.left_to_events == ()


def test_a_tag_an_event_changed_during_the_walk_is_still_left_to_it() -> None:
    observed = Observed("team/app", {"1.0": A})
    plan = plan_repository(observed, {"1.0": tag(B, STARTED + timedelta(minutes=1))}, STARTED, NOW)
    assert plan.upserts == ()
    assert plan.left_to_events == ("1.0",)


def test_a_future_dated_tag_the_registry_no_longer_has_is_removed() -> None:
    plan = plan_missing("team/gone", {"1.0": tag(B, FAR)}, STARTED, NOW)
    assert plan.removals == (Removal("1.0", B),) and plan.remove_repository
    observed = Observed("team/app", {})
    assert plan_repository(observed, {"1.0": tag(B, FAR)}, STARTED, NOW).removals == (
        Removal("1.0", B),
    )
