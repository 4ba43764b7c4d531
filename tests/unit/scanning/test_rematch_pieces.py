"""The pure pieces of a re-match: encoding findings in shared sections, counting severities,
and pausing the cycle collector."""

import gc
import json
from collections import Counter
from typing import Any

import pytest

from portside import cyclegc
from portside.scanning.rematch import FindingsEncoder
from portside.scanning.severity import counts, counts_from


def finding(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"CVE-2024-{n}", "summary": 'naïve "quoted" \u2603', "links": [], **extra}


def test_sections_encode_as_json_dumps_of_the_whole_list() -> None:
    shared = [finding(1), finding(2, fixed_version=None)]
    other = [finding(3, severity="High")]
    encoder = FindingsEncoder()
    for sections in ([shared, [], other], [other, shared], [[], []], [], [shared, shared]):
        whole = [f for section in sections for f in section]
        assert encoder.encode(sections) == json.dumps(whole)
    # A section already encoded is not encoded again: its text is reused as it was.
    shared.append(finding(4))
    assert encoder.encode([shared]) == json.dumps(shared[:2])


def test_counts_from_a_tally_equal_counts() -> None:
    words = ["High", "Low", "High", "Weird", "Critical", "Unknown"]
    assert counts_from(Counter(words)) == counts(words)
    assert list(counts(words)) == ["Critical", "High", "Low", "Unknown"]
    assert counts(words)["Unknown"] == 2
    assert counts([]) == {}


def test_the_cycle_collector_is_paused_and_restored() -> None:
    assert gc.isenabled()
    with cyclegc.paused():
        assert not gc.isenabled()
        with cyclegc.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves it as it found it
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclegc.paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_before_exit_freezes_what_is_alive() -> None:
    import gc

    from portside import cyclegc

    try:
        cyclegc.before_exit()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
