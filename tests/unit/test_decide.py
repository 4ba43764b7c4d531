import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from portside.background.retry import backoff
from portside.events.decide import (
    Complete,
    EventFacts,
    Remove,
    Skip,
    TouchPulled,
    Upsert,
    decide,
    decide_pull,
    fold_pulls,
)
from portside.index.facts import TagFacts
from portside.registry.images import ImageInfo

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
MINUTE = timedelta(minutes=1)


def ev(
    action: str, *, tag: str | None = None, digest: str | None = None, at: datetime = T0
) -> EventFacts:
    return EventFacts(action=action, tag=tag, digest=digest, actor="alice", occurred_at=at)


def tag(name: str, digest: str, *, at: datetime = T0, pulled: datetime | None = None) -> TagFacts:
    return TagFacts(name=name, digest=digest, source_at=at, pulled_at=pulled)


def image(digest: str) -> ImageInfo:
    return ImageInfo(digest=digest, media_type="application/vnd.oci.image.manifest.v1+json")


def test_push_creates_a_tag() -> None:
    decision = decide(ev("push", tag="1.0", digest=A), {}, image(A), pull_resolution=MINUTE)
    assert decision == Upsert("1.0", image(A), previous_digest=None)


def test_push_moves_a_tag_to_a_new_digest() -> None:
    tags = {"1.0": tag("1.0", A, at=T0 - MINUTE)}
    decision = decide(ev("push", tag="1.0", digest=B), tags, image(B), pull_resolution=MINUTE)
    assert decision == Upsert("1.0", image(B), previous_digest=A)


def test_a_late_push_never_overwrites_newer_state() -> None:
    tags = {"1.0": tag("1.0", B, at=T0 + MINUTE)}
    decision = decide(ev("push", tag="1.0", digest=A), tags, image(A), pull_resolution=MINUTE)
    assert isinstance(decision, Skip)


def test_push_by_digest_indexes_nothing() -> None:
    assert isinstance(decide(ev("push", digest=A), {}, None, pull_resolution=MINUTE), Skip)


def test_delete_by_digest_takes_every_tag_on_it() -> None:
    tags = {"1.0": tag("1.0", A), "latest": tag("latest", A), "2.0": tag("2.0", B)}
    decision = decide(ev("delete", digest=A, at=T0 + MINUTE), tags, None, pull_resolution=MINUTE)
    assert decision == Remove(("1.0", "latest"))


def test_delete_by_digest_spares_a_tag_pushed_after_it() -> None:
    tags = {"1.0": tag("1.0", A, at=T0 + MINUTE), "old": tag("old", A, at=T0 - MINUTE)}
    assert decide(ev("delete", digest=A), tags, None, pull_resolution=MINUTE) == Remove(("old",))


def test_the_per_tag_delete_that_follows_is_harmless() -> None:
    # distribution 2.8 sends one delete for the digest, then one per untagged tag.
    assert isinstance(decide(ev("delete", tag="1.0"), {}, None, pull_resolution=MINUTE), Skip)
    tags = {"1.0": tag("1.0", A)}
    assert decide(ev("delete", tag="1.0"), tags, None, pull_resolution=MINUTE) == Remove(("1.0",))


def test_pulls_are_coalesced() -> None:
    tags = {"1.0": tag("1.0", A, pulled=T0 - timedelta(seconds=30)), "2.0": tag("2.0", A)}
    by_tag = decide(ev("pull", tag="1.0", digest=A), tags, None, pull_resolution=MINUTE)
    assert isinstance(by_tag, Skip)  # 30 s is within the resolution
    by_digest = decide(ev("pull", digest=A), tags, None, pull_resolution=MINUTE)
    assert by_digest == TouchPulled(("2.0",))
    later = decide(ev("pull", tag="1.0", at=T0 + MINUTE), tags, None, pull_resolution=MINUTE)
    assert later == TouchPulled(("1.0",))


def test_pull_of_an_unknown_tag_changes_nothing() -> None:
    assert isinstance(decide(ev("pull", tag="x"), {}, None, pull_resolution=MINUTE), Skip)


def test_backoff_grows_exponentially_to_a_cap() -> None:
    delays = [backoff(n, 1.0, 30.0).total_seconds() for n in range(1, 8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]


# -- a clock cannot pin a tag (issue 10, item 2) -------------------------------------------
FAR = datetime(2999, 1, 1, tzinfo=UTC)


def seq_ev(
    action: str, seq: int, *, tag: str | None = "1.0", digest: str | None = A, at: datetime = T0
) -> EventFacts:
    return EventFacts(
        action=action,
        tag=tag,
        digest=digest,
        actor="alice",
        occurred_at=at,
        seq=seq,
        received_at=T0 + timedelta(seconds=seq),
    )


def test_an_event_time_never_counts_past_its_receive_time() -> None:
    assert seq_ev("push", 5, at=FAR).at == T0 + timedelta(seconds=5)
    assert seq_ev("push", 5, at=T0 - MINUTE).at == T0 - MINUTE


def test_a_push_dated_2999_does_not_outrank_the_next_real_push() -> None:
    # The 2999 push was applied as event 1: the tag remembers its position, not its date.
    pinned = {
        "1.0": TagFacts("1.0", B, source_at=T0 + timedelta(seconds=1), pulled_at=None, source_seq=1)
    }
    decision = decide(seq_ev("push", 2, digest=A), pinned, image(A), pull_resolution=MINUTE)
    assert decision == Upsert("1.0", image(A), previous_digest=B)


def test_a_replica_whose_clock_runs_ahead_does_not_hide_the_next_push() -> None:
    ahead = seq_ev("push", 1, digest=B, at=T0 + timedelta(minutes=4))
    tags = {"1.0": TagFacts("1.0", B, source_at=ahead.at, pulled_at=None, source_seq=1)}
    honest = seq_ev("push", 2, digest=A, at=T0 + timedelta(seconds=1))  # earlier by the clocks
    assert isinstance(decide(honest, tags, image(A), pull_resolution=MINUTE), Upsert)


def test_a_delete_dated_2999_removes_nothing_pushed_after_it() -> None:
    tags = {"1.0": TagFacts("1.0", A, source_at=T0, pulled_at=None, source_seq=9)}
    late_delete = seq_ev("delete", 3, tag=None, digest=A, at=FAR)
    assert isinstance(decide(late_delete, tags, None, pull_resolution=MINUTE), Skip)
    assert decide(seq_ev("delete", 10, tag=None, at=FAR), tags, None, pull_resolution=MINUTE) == (
        Remove(("1.0",))
    )


def test_a_pull_dated_2999_is_recorded_at_its_receive_time() -> None:
    tags = {"1.0": tag("1.0", A)}
    pull = seq_ev("pull", 4, at=FAR)
    assert decide(pull, tags, None, pull_resolution=MINUTE) == TouchPulled(("1.0",))
    assert pull.at == T0 + timedelta(seconds=4)


def test_against_the_syncs_observation_a_future_event_counts_as_received() -> None:
    synced = {"1.0": tag("1.0", B, at=T0 + timedelta(seconds=30))}  # the sync set it
    # Received before the sync's observation, whatever its date: older.
    early = seq_ev("push", 10, digest=A, at=FAR)
    assert isinstance(decide(early, synced, image(A), pull_resolution=MINUTE), Skip)


# -- late events complete what the sync found (item 5) ---------------------------------------
def test_a_late_push_of_the_current_digest_fills_author_and_push_time() -> None:
    synced = {"1.0": tag("1.0", A, at=T0 + timedelta(hours=1))}  # no author, no push time
    late = ev("push", tag="1.0", digest=A, at=T0)
    decision = decide(late, synced, image(A), pull_resolution=MINUTE)
    assert decision == Complete("1.0", actor="alice", pushed_at=T0)


def test_a_late_push_fills_only_what_is_missing_and_never_moves_the_tag() -> None:
    known = TagFacts("1.0", A, T0 + MINUTE, None, author="bob", pushed_at=None)
    decision = decide(
        ev("push", tag="1.0", digest=A), {"1.0": known}, image(A), pull_resolution=MINUTE
    )
    assert decision == Complete("1.0", actor=None, pushed_at=T0)
    full = TagFacts("1.0", A, T0 + MINUTE, None, author="bob", pushed_at=T0 - MINUTE)
    assert isinstance(
        decide(ev("push", tag="1.0", digest=A), {"1.0": full}, image(A), pull_resolution=MINUTE),
        Skip,
    )
    moved = {"1.0": tag("1.0", B, at=T0 + MINUTE)}  # a late push of another digest
    assert isinstance(
        decide(ev("push", tag="1.0", digest=A), moved, image(A), pull_resolution=MINUTE), Skip
    )


def pulls_one_by_one(
    events: list[EventFacts], tags: dict[str, TagFacts], resolution: timedelta
) -> dict[str, datetime | None]:
    """The reference: each pull decided and applied alone, as the ORM path does."""
    current = dict(tags)
    for event in events:
        decision = decide_pull(event, current, resolution)
        if isinstance(decision, TouchPulled):
            for name in decision.tags:
                current[name] = replace(current[name], pulled_at=event.at)
    return {name: t.pulled_at for name, t in current.items()}


def test_folded_pulls_keep_the_resolution_rule_not_the_latest_time() -> None:
    tags = {"a": tag("a", A), "b": tag("b", A), "c": tag("c", B)}
    events = [
        ev("pull", digest=A, at=T0),  # a and b, by digest
        ev("pull", tag="a", at=T0 + timedelta(seconds=30)),  # under a minute: no write
        ev("pull", tag="a", at=T0 + timedelta(seconds=70)),
        ev("pull", tag="a", at=T0 + timedelta(seconds=100)),  # 30 s after the last write
        ev("pull", tag="c", at=T0 + timedelta(seconds=10)),
        ev("pull", tag="gone", at=T0),
    ]
    pulled, touching = fold_pulls(events, tags, MINUTE)
    # The latest pull of a is at +100 s, but one by one it is never written: +70 s stays.
    assert pulled == {
        "a": T0 + timedelta(seconds=70),
        "b": T0,
        "c": T0 + timedelta(seconds=10),
    }
    assert touching == 3
    assert {**{n: t.pulled_at for n, t in tags.items()}, **pulled} == pulls_one_by_one(
        events, tags, MINUTE
    )


def test_folded_pulls_equal_pulls_one_by_one_on_random_runs() -> None:
    rng = random.Random(10)
    for _ in range(300):
        tags = {
            f"t{n}": tag(
                f"t{n}",
                rng.choice((A, B)),
                pulled=rng.choice((None, T0 - timedelta(seconds=rng.randrange(120)))),
            )
            for n in range(4)
        }
        events = [
            ev("pull", digest=rng.choice((A, B)), at=T0 + timedelta(seconds=rng.randrange(300)))
            if rng.random() < 0.2
            else ev(
                "pull", tag=f"t{rng.randrange(5)}", at=T0 + timedelta(seconds=rng.randrange(300))
            )
            for _ in range(rng.randrange(1, 12))
        ]
        resolution = timedelta(seconds=rng.choice((0, 30, 60)))
        pulled, _ = fold_pulls(events, tags, resolution)
        expected = pulls_one_by_one(events, tags, resolution)
        assert {**{n: t.pulled_at for n, t in tags.items()}, **pulled} == expected
