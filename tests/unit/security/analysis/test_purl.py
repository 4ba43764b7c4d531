"""Package URL formatting against the purl specification's rules."""

from __future__ import annotations

import pytest

from portside.security.analysis.purl import purl, pypi_name, upstream


def test_canonical_form() -> None:
    assert purl("deb", "debian", "bash", "5.2.15-2", {"distro": "debian-12", "arch": "amd64"}) == (
        "pkg:deb/debian/bash@5.2.15-2?arch=amd64&distro=debian-12"
    )
    assert purl("NPM", "@angular", "core", "17.0.0") == "pkg:npm/%40angular/core@17.0.0"
    assert purl("pypi", None, "django", None) == "pkg:pypi/django"
    assert purl("rpm", "fedora", "curl", "7.50.3-1.fc25", {"epoch": None, "arch": ""}) == (
        "pkg:rpm/fedora/curl@7.50.3-1.fc25"
    )


def test_percent_encoding() -> None:
    assert (
        purl("deb", "debian", "libc6", "2.36-9+deb12u4") == "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4"
    )
    assert (
        purl("deb", "debian", "bsdutils", "1:2.38.1-5~bpo")
        == "pkg:deb/debian/bsdutils@1:2.38.1-5~bpo"
    )
    assert (
        purl("generic", "a/b", "n m", "1 2", {"k": "a&b=c"})
        == "pkg:generic/a/b/n%20m@1%202?k=a%26b%3Dc"
    )


def test_helpers() -> None:
    assert pypi_name("Foo.Bar__baz-QUX") == "foo-bar-baz-qux"
    assert upstream("libc6", "2.36-9", "glibc", "2.36-9") == "glibc"
    assert upstream("bash", "5.2.15-2+b8", "bash", "5.2.15-2") == "bash@5.2.15-2"
    assert upstream("bash", "5.2.15-2", "bash", "5.2.15-2") is None
    assert upstream("x", "1", None, None) is None


@pytest.mark.parametrize(
    ("type_", "namespace", "name", "version", "qualifiers"),
    [
        (
            "deb",
            "debian",
            "bash",
            "5.2.15-2+b8",
            {"arch": "amd64", "distro": "debian-12", "upstream": "bash@5.2.15-2"},
        ),
        ("deb", "debian", "bsdutils", "1:2.38.1-5~bpo", {}),
        (
            "apk",
            "alpine",
            "musl",
            "1.2.4_git20230717-r4",
            {"arch": "x86_64", "distro": "alpine-3.19.1"},
        ),
        ("rpm", "redhat", "python3-libs", "3.9.18-1.el9", {"epoch": "0", "arch": "x86_64"}),
        ("npm", "@angular", "core", "17.0.0", {}),
        ("pypi", None, "typing-extensions", "4.16.0", {}),
        ("generic", "a/b", "n m", "1 2", {"k": "a&b=c", "empty": ""}),
    ],
)
def test_same_as_packageurl_python(
    type_: str, namespace: str | None, name: str, version: str, qualifiers: dict[str, str]
) -> None:
    packageurl = pytest.importorskip("packageurl")
    expected = packageurl.PackageURL(
        type=type_, namespace=namespace, name=name, version=version, qualifiers=qualifiers
    ).to_string()
    assert purl(type_, namespace, name, version, qualifiers) == expected
