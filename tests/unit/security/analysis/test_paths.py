"""Tar entry names: normalized, never escaping, and whiteout names decoded."""

from __future__ import annotations

import pytest

from portside.security.analysis.paths import (
    ancestors,
    is_whiteout_name,
    normalize,
    opaque_directory,
    whiteout_target,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("etc/os-release", "etc/os-release"),
        ("./etc/os-release", "etc/os-release"),
        ("/etc/os-release", "etc/os-release"),
        ("//etc/./apk//db/", "etc/apk/db"),
        ("./", None),
        ("", None),
        ("..", None),
        ("../etc/passwd", None),
        ("etc/../../etc/passwd", None),
        ("a/..", None),
        ("etc/pass\x00wd", None),
        ("a/..b/c", "a/..b/c"),  # a name that merely starts with dots is a name
        ("a\\..\\b", "a\\..\\b"),  # backslashes are ordinary characters in a tar name
    ],
)
def test_normalize(name: str, expected: str | None) -> None:
    assert normalize(name) == expected


def test_whiteouts() -> None:
    assert whiteout_target("usr/lib/.wh.libfoo.so") == "usr/lib/libfoo.so"
    assert whiteout_target(".wh.etc") == "etc"
    assert whiteout_target("usr/.wh..wh..opq") is None
    assert whiteout_target("usr/.wh..wh.plnk") is None
    assert whiteout_target("usr/.wh...") is None
    assert whiteout_target("usr/lib/libfoo.so") is None
    assert opaque_directory("usr/local/.wh..wh..opq") == "usr/local"
    assert opaque_directory(".wh..wh..opq") == ""
    assert opaque_directory("usr/.wh.x") is None
    assert is_whiteout_name("a/.wh.b")
    assert not is_whiteout_name("a/b.wh.c")


def test_ancestors() -> None:
    assert list(ancestors("a/b/c")) == ["a/b", "a"]
    assert list(ancestors("a")) == []
