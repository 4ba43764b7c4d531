"""The pure pieces of the accounts' command line and API: who manages a team, which
descriptions are refused, a token's state, how the terminal shows stored values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portside.accounts import store
from portside.accounts.cli import owner_label, shown
from portside.accounts.errors import InvalidAccount
from portside.accounts.policy import ANONYMOUS, EVERYONE, SERVICE, Principal, may_manage_team
from portside.accounts.vocabulary import Role
from portside.db.models import PersonalToken

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_team_owners_and_admins_manage_a_team() -> None:
    def with_role(role: Role) -> Principal:
        return Principal(name="ann", user_id=1, roles={7: role})

    assert may_manage_team(with_role(Role.OWNER), 7)
    assert not may_manage_team(with_role(Role.OWNER), 8)  # another team
    assert not may_manage_team(with_role(Role.CONTRIBUTOR), 7)
    assert may_manage_team(SERVICE, 7)
    assert not may_manage_team(EVERYONE, 7)  # trusted anonymous readers manage nothing
    assert not may_manage_team(ANONYMOUS, 7)


def test_descriptions_are_bounded_and_printable() -> None:
    assert store.check_description("base images\nfor\tteams") == "base images\nfor\tteams"
    for bad in ("\x1b[31mred", "a\rb", "x" * 1025):
        with pytest.raises(InvalidAccount):
            store.check_description(bad)


def test_a_tokens_state() -> None:
    token = PersonalToken(name="t", created_at=NOW, expires_at=NOW + timedelta(days=1))
    assert store.token_state(token, NOW) == "active"
    assert store.token_state(token, NOW + timedelta(days=1)) == "expired"
    token.revoked_at = NOW
    assert store.token_state(token, NOW) == "revoked"


def test_the_terminal_shows_stored_values_escaped() -> None:
    assert shown("plain name") == "plain name"
    assert shown("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert shown(None) == ""
    assert owner_label(None) == "(admins)"
    assert owner_label("user:ann") == "ann (personal)"
    assert owner_label("Platform") == "Platform"
