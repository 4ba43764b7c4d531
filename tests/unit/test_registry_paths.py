"""Registry API paths: validated, quoted, never resolved; Link targets; the page-size fallback."""

from __future__ import annotations

import pytest

from portside.errors import InvalidName, RegistryProtocolError
from portside.registry import paths

SHA = "sha256:" + "b" * 64


def test_paths_of_valid_names() -> None:
    assert paths.manifest("team/app", "1.0") == "/v2/team/app/manifests/1.0"
    assert paths.manifest("team/app", SHA) == f"/v2/team/app/manifests/{SHA}"
    assert paths.blob("a/b/c", SHA) == f"/v2/a/b/c/blobs/{SHA}"
    assert paths.tags("app") == "/v2/app/tags/list"
    assert paths.with_page_size(paths.CATALOG, 50) == "/v2/_catalog?n=50"
    assert paths.with_page_size(paths.CATALOG, None) == "/v2/_catalog"


@pytest.mark.parametrize(
    "repository", ["evil/../team/app", "evil/%2e%2e/team/app", "team/app/..", "team/app\x00"]
)
def test_a_repository_that_could_resolve_elsewhere_is_refused(repository: str) -> None:
    for build in (
        lambda: paths.manifest(repository, "1.0"),
        lambda: paths.blob(repository, SHA),
        lambda: paths.tags(repository),
    ):
        with pytest.raises(InvalidName):
            build()


@pytest.mark.parametrize("reference", ["..", "../1.0", "1.0/../x", "sha256:..", "a\u202eb"])
def test_an_invalid_reference_is_refused(reference: str) -> None:
    with pytest.raises(InvalidName):
        paths.manifest("team/app", reference)
    with pytest.raises(InvalidName):
        paths.blob("team/app", reference)


def test_dot_segments_are_seen() -> None:
    assert paths.has_dot_segment("/v2/evil/../team/app/manifests/1")
    assert paths.has_dot_segment("/v2/evil/%2E%2e/team")
    assert paths.has_dot_segment("/v2/./x")
    assert not paths.has_dot_segment("/v2/a.b/manifests/1.0?last=..")


BASE = "http://registry.test:5000"


@pytest.mark.parametrize(
    ("base", "target", "expected"),
    [
        (BASE, "/v2/_catalog?last=a%2Fb&n=50", "/v2/_catalog?last=a%2Fb&n=50"),
        (BASE, f"{BASE}/v2/_catalog?last=x", "/v2/_catalog?last=x"),
        (BASE + "/prefix", "/prefix/v2/_catalog?last=x", "/v2/_catalog?last=x"),
        (BASE + "/prefix", "/v2/_catalog?last=x", "/v2/_catalog?last=x"),
        (BASE, "?last=x", "/v2/_catalog?last=x"),
    ],
)
def test_a_link_on_the_same_endpoint_is_followed(base: str, target: str, expected: str) -> None:
    assert paths.follow_link(target, base, paths.CATALOG) == expected


@pytest.mark.parametrize(
    "target",
    [
        "http://elsewhere.test/v2/_catalog?last=x",
        "https://registry.test:5000/v2/_catalog?last=x",
        "//elsewhere.test/v2/_catalog",
        "/v2/team/app/manifests/1.0",
        "/v2/_catalog/../team/app/tags/list",
        "/v2/%2e%2e/_catalog",
        "/other/_catalog?last=x",
        "/v2/_catalog#x",
    ],
)
def test_a_link_elsewhere_is_refused(target: str) -> None:
    with pytest.raises(RegistryProtocolError):
        paths.follow_link(target, BASE, paths.CATALOG)


def test_a_refused_page_size_is_asked_again_without_it() -> None:
    assert paths.without_page_size("/v2/_catalog?n=100") == "/v2/_catalog"
    assert paths.without_page_size("/v2/_catalog?last=a%2Fb&n=100") == "/v2/_catalog?last=a%2Fb"
    assert paths.without_page_size("/v2/_catalog?n=100&last=x") == "/v2/_catalog?last=x"
    assert paths.without_page_size("/v2/_catalog?last=x") is None
    assert paths.without_page_size("/v2/_catalog") is None


def test_an_upload_location_is_kept_on_its_origin_and_repository() -> None:
    digest = "sha256:" + "a" * 64
    base = "http://127.0.0.1:5000"
    relative = "/v2/demo/app/blobs/uploads/1f2e?_state=abc"
    assert paths.upload_location(relative, base, "demo/app", digest) == (
        f"/v2/demo/app/blobs/uploads/1f2e?_state=abc&digest=sha256%3A{'a' * 64}"
    )
    assert paths.upload_location(base + relative, base, "demo/app", digest).startswith(
        "/v2/demo/app/blobs/uploads/1f2e?"
    )
    for hostile in (
        "http://elsewhere:5000/v2/demo/app/blobs/uploads/1",
        "/v2/other/app/blobs/uploads/1",
        "/v2/demo/app/blobs/uploads/../../../other/x",
        "/v2/demo/app/manifests/latest",
    ):
        with pytest.raises(RegistryProtocolError):
            paths.upload_location(hostile, base, "demo/app", digest)
