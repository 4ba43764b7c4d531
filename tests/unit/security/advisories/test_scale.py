"""A scale check without timing: 10,000 synthetic advisories index and match without error."""

from portside.security.advisories.match import build_index, match_packages
from portside.security.advisories.osv import parse_advisory

from . import synthetic


def test_ten_thousand_advisories_index_and_match() -> None:
    index = build_index(parse_advisory(r).advisory for r in synthetic.records(10_000))
    assert index.advisories == 10_000
    assert index.undecidable_ranges == 0
    lists = list(synthetic.package_lists(50))
    results = [match_packages(index, packages) for packages in lists]
    assert sum(r.undecided for r in results) == 0
    assert sum(len(r.findings) for r in results) > 0
    # Matching again gives the same answers (from the memo).
    assert [match_packages(index, packages) for packages in lists] == results
