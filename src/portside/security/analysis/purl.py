"""Package URLs (https://github.com/package-url/purl-spec), formatted by hand.

The canonical form: lower-case type, each namespace segment, the name and the version
percent-encoded (``:`` left as is, as packageurl-python does), qualifiers sorted by key with
empty ones dropped. ``pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12``.
The tests check the output is the same as packageurl-python's, when that is installed; no
runtime dependency on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote


def _encode(text: str) -> str:
    return quote(text, safe="").replace("%3A", ":")


def purl(
    type_: str,
    namespace: str | None,
    name: str,
    version: str | None = None,
    qualifiers: Mapping[str, str | None] | None = None,
) -> str:
    parts = ["pkg:", type_.lower(), "/"]
    if namespace:
        segments = [_encode(segment) for segment in namespace.split("/") if segment]
        parts.append("/".join(segments) + "/")
    parts.append(_encode(name))
    if version:
        parts.append("@" + _encode(version))
    pairs = sorted((key.lower(), value) for key, value in (qualifiers or {}).items() if value)
    if pairs:
        parts.append("?" + "&".join(f"{key}={_encode(value)}" for key, value in pairs))
    return "".join(parts)


def pypi_name(name: str) -> str:
    """A Python distribution name normalized per PEP 503 (``Foo.Bar_baz`` -> ``foo-bar-baz``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def upstream(
    name: str, version: str, source_name: str | None, source_version: str | None
) -> str | None:
    """The ``upstream`` qualifier of an OS package: its source, when that differs from it."""
    source = source_name or name
    if source_version and source_version != version:
        return f"{source}@{source_version}"
    return source if source != name else None
