"""The overview's counts cache, kept per view: pure."""

from __future__ import annotations

from portside.accounts.policy import ANONYMOUS, EVERYONE, Principal
from portside.accounts.vocabulary import Role
from portside.reads import visible
from portside.reads.overview import Counts, CountsCache


def test_only_a_large_index_counts_are_kept_a_while() -> None:
    cache = CountsCache(ttl=10)
    small = Counts(repositories=3, tags=5, scanned=1, severities=[])
    cache.keep(small, now=100.0)
    assert cache.get(100.0) is None  # exact counts are always counted afresh
    large = Counts(repositories=100_000, tags=1_000_000, scanned=9, severities=[], estimated=True)
    cache.keep(large, now=100.0)
    assert cache.get(109.9) is large
    assert cache.get(110.0) is None


def test_each_view_is_kept_apart_and_the_oldest_views_go_first() -> None:
    cache = CountsCache(ttl=10)
    cache.views = 2
    everything = Counts(repositories=9, tags=9, scanned=0, severities=[], estimated=True)
    ann = Counts(repositories=1, tags=1, scanned=0, severities=[], estimated=True)
    cache.keep(everything, now=0.0)
    cache.keep(ann, now=0.0, key=(True, (1,)))
    assert cache.get(1.0) is everything
    assert cache.get(1.0, key=(True, (1,))) is ann
    assert cache.get(1.0, key=(True, (2,))) is None  # another team's view is its own
    cache.keep(ann, now=0.0, key=(False, ()))
    assert cache.get(1.0) is None  # the oldest view made room
    assert cache.get(1.0, key=(False, ())) is ann


def test_a_view_depends_on_being_logged_in_and_the_teams_only() -> None:
    ann = Principal(name="ann", user_id=1, roles={3: Role.VIEWER, 1: Role.OWNER})
    same_teams = Principal(name="amy", user_id=2, roles={1: Role.VIEWER, 3: Role.OWNER})
    assert visible.cache_key(ann) == visible.cache_key(same_teams) == (True, (1, 3))
    assert visible.cache_key(ANONYMOUS) == (False, ())
    assert visible.cache_key(EVERYONE) is None
    assert visible.cache_key(Principal(admin=True)) is None
