"""The pure decisions of re-checking a directory user who uses a personal token: whether a
re-check is due, whether the last confirmation still covers an outage, what each answer
means, whom it applies to; and the two settings' bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portside.accounts.ldap import Presence
from portside.accounts.recheck import (
    Outcome,
    needs_recheck,
    outcome,
    recheck_due,
    within_grace,
)
from portside.db.models import User
from portside.errors import ConfigError
from portside.settings import LdapSettings, load_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BASE: dict[str, Any] = {"url": "ldap://ldap.example.org", "user_base": "ou=people,dc=example"}


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("checked_at", "due"),
    [
        (None, True),  # never confirmed (a user from before, who never logged in)
        (NOW, False),
        (ago(299), False),
        (ago(300), True),  # every interval, exactly
        (ago(86400), True),
        (NOW + timedelta(seconds=10), False),  # a clock a little behind
        (NOW + timedelta(seconds=301), True),  # a clock far behind: not trusted
    ],
)
def test_a_recheck_is_due_every_interval(checked_at: datetime | None, due: bool) -> None:
    assert recheck_due(checked_at, NOW, 300) is due


def test_the_grace_counts_from_the_last_confirmation() -> None:
    assert within_grace(ago(3599), NOW, 3600)
    assert not within_grace(ago(3600), NOW, 3600)
    assert not within_grace(None, NOW, 3600)
    assert not within_grace(NOW, NOW, 0)  # no grace: an outage refuses at once


@pytest.mark.parametrize(
    ("presence", "checked_at", "expected"),
    [
        (Presence.PRESENT, None, Outcome.CONFIRMED),
        (Presence.PRESENT, ago(10 * 86400), Outcome.CONFIRMED),
        (Presence.GONE, ago(1), Outcome.DISABLE),  # gone is gone, whatever the grace
        (None, ago(600), Outcome.GRACE),  # directory down: the last answer holds a while
        (None, ago(86400), Outcome.UNAVAILABLE),  # then 503
        (None, None, Outcome.UNAVAILABLE),
        (Presence.UNCLEAR, ago(600), Outcome.GRACE),
        (Presence.UNCLEAR, ago(86400), Outcome.REFUSE),
    ],
)
def test_what_an_answer_means(
    presence: Presence | None, checked_at: datetime | None, expected: Outcome
) -> None:
    assert outcome(presence, checked_at, NOW, 86400) is expected


def test_only_directory_users_are_rechecked_and_only_with_a_directory() -> None:
    ldap = LdapSettings(**BASE)
    directory_user = User(name="alice", ldap_name="uid=alice,ou=people", bot=False)
    local = User(name="root", ldap_name=None, bot=False)
    bot = User(name="ci", ldap_name="uid=ci,ou=people", bot=True)
    assert needs_recheck(directory_user, ldap)
    assert not needs_recheck(directory_user, None)  # auth.ldap unset: nothing to ask
    assert not needs_recheck(local, ldap) and not needs_recheck(bot, ldap)


def test_the_recheck_settings_are_bounded() -> None:
    ldap = load_settings(None, auth={"ldap": BASE}).auth.ldap
    assert ldap is not None and ldap.recheck_interval == 300 and ldap.recheck_grace == 86400
    for key, wrong in [
        ("recheck_interval", 0),
        ("recheck_interval", 86401),
        ("recheck_grace", -1),
        ("recheck_interval", "soon"),
    ]:
        with pytest.raises(ConfigError, match=f"auth.ldap.{key}"):
            load_settings(None, auth={"ldap": {**BASE, key: wrong}})
