"""A tag's scan state is its digest's scan target's (issue 10, item 6)."""

from portside.security.scanning.queue import tag_state


def test_a_tag_shows_its_digests_scan() -> None:
    assert tag_state(None) == "pending"
    assert tag_state("pending") == "pending"
    assert tag_state("progress") == "in progress"
    assert tag_state("done") == "done"
    assert tag_state("failed") == "failed"
