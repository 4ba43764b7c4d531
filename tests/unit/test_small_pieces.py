import pytest
import yaml

from portside.api.notifications import authorized
from portside.background.runtime import error_backoff
from portside.errors import (
    RegistryAuthError,
    RegistryNotFound,
    RegistryRejected,
    RegistryUnavailable,
)
from portside.index.names import is_valid_digest, is_valid_repository, is_valid_tag, namespace_of
from portside.registry.client import _next_link, error_for_status
from portside.registry.config import render


def test_namespaces() -> None:
    assert namespace_of("ns/app") == "ns"
    assert namespace_of("a/b/c") == "a"
    assert namespace_of("busybox") == ""
    assert is_valid_repository("a/b-c/d_e.f")
    assert not is_valid_repository("Upper/case")
    assert not is_valid_repository("../etc")


def test_webhook_token_forms() -> None:
    tokens = ["s3cret", "other"]
    assert authorized("Bearer s3cret", tokens)
    assert authorized("bearer other", tokens)
    assert authorized("s3cret", tokens)
    assert not authorized("Bearer s3cre", tokens)
    assert not authorized("Basic s3cret", tokens)
    assert not authorized(None, tokens)
    assert not authorized("Bearer ", [])


def test_link_header() -> None:
    link = '</v2/_catalog?last=b&n=2>; rel="next"'
    assert _next_link(link) == "/v2/_catalog?last=b&n=2"
    assert _next_link(None) is None
    assert _next_link('</x>; rel="prev"') is None


def test_status_codes_become_the_error_tree() -> None:
    body = b'{"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}'
    error = error_for_status("GET", "/v2/x/manifests/1", 404, body)
    assert isinstance(error, RegistryNotFound)
    assert "MANIFEST_UNKNOWN" in str(error)
    assert isinstance(error_for_status("GET", "/", 503, b""), RegistryUnavailable)
    assert isinstance(error_for_status("GET", "/", 429, b""), RegistryUnavailable)
    assert isinstance(error_for_status("GET", "/", 403, b""), RegistryAuthError)
    assert isinstance(error_for_status("GET", "/", 400, b"<html>"), RegistryRejected)


def test_registry_config_snippet() -> None:
    snippet = yaml.safe_load(render("http://portside:8080/", "s3cret"))
    (endpoint,) = snippet["notifications"]["endpoints"]
    assert endpoint["url"] == "http://portside:8080/v2/webhooks/events"
    assert endpoint["headers"] == {"Authorization": ["Bearer s3cret"]}
    assert "application/octet-stream" in endpoint["ignoredmediatypes"]


def test_error_backoff() -> None:
    assert [error_backoff(n, 1.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert error_backoff(20, 1.0) == 60.0


@pytest.mark.parametrize(
    "name",
    [
        "evil/../team/app",
        "team/%2e%2e/app",
        "team/./app",
        "Team/app",
        "team/app\n",
        "team/app\x00",
        "team/\x1bapp",
        "team/\u202eppa",
        "team//app",
        "/team/app",
        "team/app/",
        "a" * 256,
        "",
    ],
)
def test_invalid_repository_names(name: str) -> None:
    assert not is_valid_repository(name)


def test_tags_and_digests() -> None:
    assert is_valid_repository("a" * 255)
    assert is_valid_tag("t" * 128) and not is_valid_tag("t" * 129)
    for tag in ("..", ".hidden", "-x", "1.0\n", "1.0\x00", "a/b", "%2e", "\u202e1"):
        assert not is_valid_tag(tag), tag
    assert is_valid_digest("sha256:" + "0a" * 32)
    for digest in ("sha256:" + "0A" * 32, "sha256:" + "a" * 64 + "\n", "md5:" + "a" * 32, "x"):
        assert not is_valid_digest(digest), digest
