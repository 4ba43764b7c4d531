"""The pure pieces of a re-match: encoding findings in shared sections, counting severities,
and pausing the cycle collector."""

import json
from collections import Counter
from typing import Any

from portside.security.scanning.rematch_matcher import FindingsEncoder
from portside.security.severity import counts, counts_from


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
