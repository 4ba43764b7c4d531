"""RFC 822-style stanzas as dpkg writes them (deb822): ``Field: value``, blank line between.

A small parser rather than python-debian's :mod:`debian.deb822`: the status file needs only
fields and continuation lines, and this keeps the scanner free of a dependency.
"""

from __future__ import annotations

from collections.abc import Iterator


def stanzas(text: str) -> Iterator[dict[str, str]]:
    """Each stanza as a dict of lower-cased field names to values.

    A continuation line (starting with a space or tab) is appended to the field above it; lines
    that are neither are ignored, so a damaged file yields what it still holds.
    """
    current: dict[str, str] = {}
    field: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                yield current
            current, field = {}, None
        elif line[0] in " \t":
            if field is not None:
                current[field] += "\n" + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            field = name.strip().lower()
            current[field] = value.strip()
    if current:
        yield current
