"""Image references as `portside scan` and POST /api/v1/scans take them (pure)."""

from __future__ import annotations

import pytest

from portside.errors import ConfigError, InvalidName
from portside.security.scanning.oneshot import parse_ref

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("ns/app:1.0", ("ns/app", "1.0")),
        ("ns/app", ("ns/app", "latest")),
        ("app", ("app", "latest")),
        ("a/b/c:v1_2-rc.3", ("a/b/c", "v1_2-rc.3")),
        (f"ns/app@{DIGEST}", ("ns/app", DIGEST)),
        ("my.registry-name/app__x:latest", ("my.registry-name/app__x", "latest")),
    ],
)
def test_references_are_split(ref: str, expected: tuple[str, str]) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("ns/app@md5:abc", "not a valid digest"),
        ("ns/app@sha256:" + "AB" * 32, "not a valid digest"),  # hex is lowercase
        ("ns/app@sha256:abc", "not a valid digest"),
        (f"ns/app@{DIGEST}\n", "not a valid digest"),
        ("ns/App:1.0", "repository name"),
        ("", "repository name"),
        ("0/", "repository name"),
        ("ns/app:", "not a valid tag"),
        ("ns/app:-x", "not a valid tag"),
        ("ns/app:" + "x" * 129, "not a valid tag"),
        ("ns//app", "repository name"),
        ("ns/app:1.0\x00", "not a valid tag"),
        ("ns/app:1.0\n", "not a valid tag"),
        ("ns/app\n", "repository name"),
    ],
)
def test_malformed_references_are_refused_with_the_reason(ref: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason) as refused:
        parse_ref(ref)
    assert not isinstance(refused.value, ConfigError)  # the user's input, not a setting
