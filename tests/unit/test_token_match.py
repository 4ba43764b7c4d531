"""The API's and the webhook's token comparison never accepts a blank offer or a blank token."""

import pytest

from portside.web.access import token_matches


@pytest.mark.parametrize("header", ["", " ", "\xa0", "\t\xa0 ", "Bearer", "Bearer ", "Bearer \xa0"])
@pytest.mark.parametrize("tokens", [[""], [" "], ["\xa0"], ["", "good"], ["good"]])
def test_a_blank_offer_matches_nothing(header: str, tokens: list[str]) -> None:
    """Blank tokens are refused at start; the comparison refuses them too, for any caller."""
    assert not token_matches(header, tokens)


def test_a_blank_configured_token_is_skipped() -> None:
    assert token_matches("Bearer good", ["", "good"])
    assert not token_matches("Bearer  ", ["", " "])
    assert not token_matches("Bearer good", [])
