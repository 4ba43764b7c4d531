import re
from datetime import UTC, datetime, timedelta

from portside.gc.policy import Rules, TagAge, choose, describe, explain

NOW = datetime(2026, 11, 27, tzinfo=UTC)
DAY = timedelta(days=1)


def tag(
    repo: str, name: str, digest: str, pushed_days: float, pulled_days: float | None = None
) -> TagAge:
    return TagAge(
        repo,
        name,
        digest,
        NOW - pushed_days * DAY,
        NOW - pulled_days * DAY if pulled_days is not None else None,
    )


def names(tags: list[TagAge]) -> list[str]:
    return [f"{t.repository}:{t.name}" for t in tags]


def test_old_unused_tags_go_and_keep_latest_is_per_repository() -> None:
    tags = [tag("a", f"v{n}", f"d{n}", 100 + n) for n in range(5)] + [tag("b", "old", "x", 200)]
    chosen = choose(tags, Rules(older_than=30 * DAY, keep_latest=2), NOW)
    # a keeps its two newest (v0, v1); b keeps its only tag: the count is per repository.
    assert names(chosen) == ["a:v2", "a:v3", "a:v4"]


def test_a_recent_pull_keeps_a_tag() -> None:
    tags = [
        tag("a", "new", "d0", 1),
        tag("a", "pulled", "d1", 300, pulled_days=2),
        tag("a", "cold", "d2", 300),
    ]
    assert names(choose(tags, Rules(older_than=30 * DAY, keep_latest=0), NOW)) == ["a:cold"]


def test_a_digest_goes_only_with_all_its_tags() -> None:
    tags = [
        tag("a", "latest", "same", 300, pulled_days=1),
        tag("a", "snapshot", "same", 300),
        tag("a", "x", "other", 300),
    ]
    assert names(choose(tags, Rules(older_than=30 * DAY, keep_latest=0), NOW)) == ["a:x"]


def test_include_and_exclude() -> None:
    tags = [
        tag("a", "pr-1", "d1", 300),
        tag("a", "pr-2-keep", "d2", 300),
        tag("a", "1.0", "d3", 300),
    ]
    rules = Rules(
        older_than=30 * DAY,
        keep_latest=0,
        include=re.compile(r":pr-"),
        exclude=re.compile(r"keep$"),
    )
    assert names(choose(tags, rules, NOW)) == ["a:pr-1"]


def test_a_tag_without_a_push_time_is_judged_by_when_it_was_first_seen() -> None:
    # Found by the sync (no push event): issue 10, item 5. Today such a tag is never collected.
    old = TagAge("a", "old", "d1", None, None, first_seen=NOW - 100 * DAY)
    new = TagAge("a", "new", "d2", None, None, first_seen=NOW - 1 * DAY)
    chosen = choose([old, new], Rules(older_than=30 * DAY, keep_latest=0), NOW)
    assert names(chosen) == ["a:old"]


def test_keep_latest_orders_tags_without_push_time_by_first_seen() -> None:
    tags = [
        TagAge("a", f"v{n}", f"d{n}", None, None, first_seen=NOW - (100 + n) * DAY)
        for n in range(3)
    ]
    chosen = choose(tags, Rules(older_than=30 * DAY, keep_latest=1), NOW)
    assert names(chosen) == ["a:v1", "a:v2"]


def test_image_creation_is_used_only_when_nothing_else_is_known() -> None:
    tag = TagAge("a", "x", "d", None, None, first_seen=NOW - DAY, image_created=NOW - 900 * DAY)
    assert tag.pushed() == NOW - DAY
    bare = TagAge("a", "x", "d", None, None, image_created=NOW - 900 * DAY)
    assert bare.pushed() == NOW - 900 * DAY


def test_every_tag_gets_a_verdict_with_its_reason() -> None:
    tags = [
        tag("a", "new", "d1", 1),
        tag("a", "old", "d2", 90),
        tag("a", "pulled", "d3", 90, pulled_days=2),
        tag("a", "shared-old", "d4", 90),
        tag("a", "shared-pulled", "d4", 90, pulled_days=1),
        tag("a", "keep-me", "d5", 90),
    ]
    rules = Rules(older_than=30 * DAY, keep_latest=1, exclude=re.compile(r":keep-"))
    verdicts = {v.tag.name: v for v in explain(tags, rules, NOW)}
    assert verdicts["old"].goes and verdicts["old"].reason.startswith("unused since")
    assert "keep_latest" in verdicts["new"].reason
    assert verdicts["pulled"].reason.startswith("pulled ")
    assert "digest stays with shared-pulled" in verdicts["shared-old"].reason
    assert verdicts["keep-me"].reason == "matched by exclude"
    assert [n for n, v in verdicts.items() if v.goes] == ["old"]
    assert names(choose(tags, rules, NOW)) == ["a:old"]
    assert describe(rules) == "older_than 30 days; keep_latest 1 per repository; exclude /:keep-/"
