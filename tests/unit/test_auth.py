from datetime import UTC, datetime, timedelta

import pytest

from portside.registry.auth import TokenCache, parse_challenge, token_from_response

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_bearer_challenge() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:ns/app:pull",error="insufficient_scope"'
    )
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example/token"
    assert challenge.params["service"] == "registry.example"
    assert challenge.params["scope"] == "repository:ns/app:pull"


def test_basic_challenge_and_nothing() -> None:
    challenge = parse_challenge('Basic realm="portside"')
    assert challenge is not None
    assert challenge.scheme == "basic"
    assert parse_challenge(None) is None
    assert parse_challenge("") is None


def test_token_response_forms() -> None:
    token = token_from_response({"token": "t", "expires_in": 300}, NOW)
    assert token.value == "t"
    assert token.expires_at == NOW + timedelta(seconds=300)
    token = token_from_response({"access_token": "a"}, NOW)
    assert token.value == "a"
    assert token.expires_at == NOW + timedelta(seconds=60)  # the spec's default
    issued = (NOW - timedelta(seconds=30)).isoformat()
    token = token_from_response({"token": "t", "expires_in": 100, "issued_at": issued}, NOW)
    assert token.expires_at == NOW + timedelta(seconds=70)
    with pytest.raises(ValueError, match="neither"):
        token_from_response({"expires_in": 5}, NOW)
    with pytest.raises(ValueError, match="object"):
        token_from_response(["t"], NOW)


def test_token_cache_drops_tokens_before_they_expire() -> None:
    cache = TokenCache()
    cache.put("s", token_from_response({"token": "t", "expires_in": 60}, NOW))
    assert cache.get("s", NOW + timedelta(seconds=40)) is not None
    assert cache.get("s", NOW + timedelta(seconds=55)) is None  # inside the safety margin
    assert cache.get("other", NOW) is None
