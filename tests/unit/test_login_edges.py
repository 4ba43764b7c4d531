"""The pure pieces of logging in: the throttle's decisions, where ``next=`` may lead, the
CSRF comparison, the session cookie's Secure flag, what the API's door admits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portside.accounts.throttle import (
    Count,
    Limits,
    address_key,
    after_failure,
    retry_after,
    retry_after_header,
    user_key,
)
from portside.api.admission import has_credential
from portside.settings import load_settings
from portside.ui.viewer import safe_next
from portside.web.access import session_current
from portside.web.csrf import matches
from portside.web.sessions import secure_cookie

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_failures=10, window=60)


def test_ten_failures_in_a_minute_block_until_the_window_ends() -> None:
    count = None
    for _ in range(9):
        count = after_failure(count, NOW, LIMITS)
        assert retry_after(count, NOW, LIMITS) is None
    count = after_failure(count, NOW + timedelta(seconds=20), LIMITS)
    assert count == Count(failures=10, window_start=NOW)
    assert retry_after(count, NOW + timedelta(seconds=20), LIMITS) == 40.0
    assert retry_after(count, NOW + timedelta(seconds=60), LIMITS) is None


def test_a_failure_after_the_window_starts_a_new_one() -> None:
    old = Count(failures=10, window_start=NOW - timedelta(seconds=61))
    assert after_failure(old, NOW, LIMITS) == Count(failures=1, window_start=NOW)
    assert retry_after(None, NOW, LIMITS) is None


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_header(0.0) == "1"
    assert retry_after_header(39.2) == "40"


def test_keys_fit_the_column() -> None:
    assert user_key("alice") == "user:alice"
    assert address_key(None) == "addr:unknown"
    assert len(user_key("a" * 400)) == 320


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("/repositories?q=x", "/repositories?q=x"),
        ("/account", "/account"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("/a\\b", "/"),
        ("/a b", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("javascript:alert(1)", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_next_is_a_local_path(value: str | None, target: str) -> None:
    assert safe_next(value) == target


def test_csrf_tokens_compare_whole() -> None:
    assert matches("abc", "abc")
    assert not matches("abc", "abd")
    assert not matches("abc", "")
    assert not matches("", "")
    assert not matches(None, "abc")
    assert not matches("abc", "abc" * 100)


def test_the_cookie_is_secure_behind_https() -> None:
    assert not secure_cookie(load_settings(None))
    assert secure_cookie(load_settings(None, auth={"public_url": "https://portside.example"}))
    forced = load_settings(None, auth={"session": {"secure_cookie": True}})
    assert secure_cookie(forced)


@pytest.mark.parametrize(
    ("authorization", "cookie", "admitted"),
    [
        ("Bearer admin-token", None, True),
        ("Bearer pst_abc", None, True),
        ("bearer  pst_abc", None, True),
        ("Bearer wrong", None, False),
        ("Bearer wrong", "portside_session=x", False),  # a bad header is not saved by a cookie
        (None, "portside_session=x", True),
        (None, "theme=dark; portside_session=x", True),
        (None, "other_session=x", False),
        (None, None, False),
    ],
)
def test_the_api_door_admits_credentials(
    authorization: str | None, cookie: str | None, admitted: bool
) -> None:
    assert has_credential(authorization, cookie, ["admin-token"]) is admitted


@pytest.mark.parametrize(
    ("held", "enabled", "generation", "stands"),
    [
        (0, True, 0, True),
        (3, True, 3, True),
        (2, True, 3, False),  # the password changed, or "log out everywhere", since the login
        (3, False, 3, False),  # the user was disabled
        (None, True, 0, False),  # a session from before generations: logged out once
        ("0", True, 0, False),
        (False, True, 0, False),  # a bool is no generation, though False == 0
    ],
)
def test_a_session_stands_while_its_generation_is_the_users(
    held: object, enabled: bool, generation: int, stands: bool
) -> None:
    assert session_current(held, enabled, generation) is stands
