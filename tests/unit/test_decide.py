from datetime import UTC, datetime, timedelta

from portside.events.decide import (
    EventFacts,
    Remove,
    Skip,
    TagFacts,
    TouchPulled,
    Upsert,
    backoff,
    decide,
)
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
