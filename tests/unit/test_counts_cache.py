"""The overview's counts cache: pure."""

from __future__ import annotations

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
