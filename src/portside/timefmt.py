"""RFC 3339 timestamps as Go writes them (up to nanoseconds, "Z" or an offset)."""

from __future__ import annotations

import re
from datetime import datetime

_FRACTION = re.compile(r"\.(\d+)")


def parse_rfc3339(value: str) -> datetime:
    """Parse a timestamp with a time zone; raise ValueError otherwise."""
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    # Python takes at most microseconds: cut (or pad) the fraction to six digits.
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return parsed
