"""Semantic Versioning 2.0.0 precedence (npm, and every ``SEMVER`` range), as a sort key.

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``: numbers compare as integers; a version with a
pre-release sorts before the same version without one; pre-release identifiers compare one by
one, numeric ones as integers and below alphanumeric ones, which compare as ASCII strings, and a
longer list wins when all shared identifiers are equal. Build metadata does not count
(``1.0.0+build.1`` has the precedence of ``1.0.0``). A leading ``v`` is tolerated (Go modules).

univers' ``SemverVersion`` is not used: it coerces invalid strings into versions and counts build
metadata in the order, both against the specification.
"""

from __future__ import annotations

import re

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$",
    re.ASCII,
)
_RELEASE: tuple[tuple[int, int | str], ...] = ((2, 0),)  # above any pre-release identifier list

SemverKey = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


def _identifier(text: str) -> tuple[int, int | str]:
    return (0, int(text)) if text.isdigit() else (1, text)


def semver_key(version: str) -> SemverKey:
    """The precedence key of a SemVer 2.0.0 version; raises ValueError if invalid."""
    match = _SEMVER.match(version)
    if match is None:
        raise ValueError(f"not a semantic version: {version!r}")
    major, minor, patch, pre = match.group(1, 2, 3, 4)
    pre_key = tuple(_identifier(part) for part in pre.split(".")) if pre else _RELEASE
    return (int(major), int(minor), int(patch), pre_key)
