"""Repository, tag and digest validation: the distribution grammar, matched whole."""

from __future__ import annotations

import pytest

from portside.errors import InvalidName, RegistryRejected
from portside.index.names import (
    check_digest,
    check_reference,
    check_repository,
    check_tag,
    is_valid_digest,
    is_valid_reference,
    is_valid_repository,
    is_valid_tag,
    shown,
)

SHA = "sha256:" + "a" * 64

GOOD_REPOSITORIES = ["app", "team/app", "a/b/c", "my-app", "my__app", "a.b/c_d", "x" * 255]
BAD_REPOSITORIES = [
    "",
    "evil/../team/app",
    "../team/app",
    "team/app/..",
    "./app",
    "team/%2e%2e/app",
    "team/%2E%2E/app",
    "team//app",
    "/team/app",
    "team/app/",
    "Team/app",
    "team/App",
    "team/app\n",
    "team/app\x00",
    "team/\x00app",
    "team/a\tpp",
    "team/a\u202epp",  # right-to-left override
    "team/a\u200bpp",  # zero width space
    "team/\u0430pp",  # Cyrillic a
    "team/app:1.0",
    "team/app@sha256",
    "team\\app",
    "-app",
    "app-",
    "a..b",
    "a___b",
    "x" * 256,
]
GOOD_TAGS = ["1.0", "latest", "_x", "A-b.c_d", "v" * 128]
BAD_TAGS = [
    "",
    ".",
    "..",
    ".hidden",
    "-x",
    "a/b",
    "../x",
    "a%2e",
    "1.0\n",
    "1.0\x00",
    "a\u202eb",
    "a b",
    "a:b",
    "v" * 129,
]
GOOD_DIGESTS = [
    SHA,
    "sha512:" + "0" * 128,
    "sha384:" + "0" * 96,
]
BAD_DIGESTS = [
    "",
    "sha256:",
    ":abc",
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "A" * 64,
    SHA + "\n",
    SHA + "\x00",
    "sha256:../" + "a" * 61,
    "sha256/" + "a" * 64,
    "sha512:" + "0" * 64,
    "x:" + "a" * 300,
    # The OCI grammar allows other algorithms; no registry computes them, so none is accepted.
    "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
    "md5:" + "a" * 32,
]


@pytest.mark.parametrize("name", GOOD_REPOSITORIES)
def test_valid_repositories(name: str) -> None:
    assert is_valid_repository(name)
    assert check_repository(name) == name


@pytest.mark.parametrize("name", BAD_REPOSITORIES)
def test_invalid_repositories(name: str) -> None:
    assert not is_valid_repository(name)
    with pytest.raises(InvalidName):
        check_repository(name)


@pytest.mark.parametrize("name", GOOD_TAGS)
def test_valid_tags(name: str) -> None:
    assert is_valid_tag(name) and is_valid_reference(name)
    assert check_tag(name) == check_reference(name) == name


@pytest.mark.parametrize("name", BAD_TAGS)
def test_invalid_tags(name: str) -> None:
    assert not is_valid_tag(name)
    with pytest.raises(InvalidName):
        check_tag(name)


@pytest.mark.parametrize("digest", GOOD_DIGESTS)
def test_valid_digests(digest: str) -> None:
    assert is_valid_digest(digest) and is_valid_reference(digest)
    assert check_digest(digest) == check_reference(digest) == digest


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_invalid_digests(digest: str) -> None:
    assert not is_valid_digest(digest)
    with pytest.raises(InvalidName):
        check_reference(digest)


def test_an_invalid_name_is_a_refused_registry_request_with_an_escaped_bounded_message() -> None:
    with pytest.raises(RegistryRejected) as caught:
        check_repository("evil/\x1b[2J\u202e" + "x" * 500)
    message = str(caught.value)
    assert "\x1b" not in message and "\u202e" not in message
    assert len(message) < 400
    assert shown("a\x00") == "'a\\x00'"
