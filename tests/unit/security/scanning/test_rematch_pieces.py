"""The pure pieces of a re-match: counting severities, and pausing the cycle collector."""

from collections import Counter

from portside.security.severity import counts, counts_from


def test_counts_from_a_tally_equal_counts() -> None:
    words = ["High", "Low", "High", "Weird", "Critical", "Unknown"]
    assert counts_from(Counter(words)) == counts(words)
    assert list(counts(words)) == ["Critical", "High", "Low", "Unknown"]
    assert counts(words)["Unknown"] == 2
    assert counts([]) == {}
