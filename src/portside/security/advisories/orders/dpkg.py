"""Debian/Ubuntu version order (dpkg), as a sort key.

``[epoch:]upstream[-revision]``: epochs compare as integers; upstream and revision each compare as
alternating runs of non-digits (character by character, ``~`` before the end of the string, the end
before letters, letters before other characters) and digits (as integers).

The key is a plain tuple, so comparing two parsed versions is one C-level tuple comparison. The
tests check it against python-debian's ``debian.debian_support.Version`` on a corpus of versions.
"""

from __future__ import annotations

import re
from functools import lru_cache

# The syntax python-debian accepts (Debian Policy 5.6.12, leniently: the upstream part need not
# start with a digit).
_VERSION = re.compile(
    r"^(?:(?P<epoch>\d+):)?(?P<upstream>[A-Za-z0-9.+:~-]+?)(?:-(?P<revision>[A-Za-z0-9+.~]+))?$",
    re.ASCII,
)
_RUNS = re.compile(r"\D+|\d+", re.ASCII)
_END = (0,)  # the key of an empty non-digit run: what a shorter string compares as

DpkgKey = tuple[int, tuple[object, ...], tuple[object, ...]]


def _weight(char: str) -> int:
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


@lru_cache(maxsize=4096)  # few distinct runs ("." "+deb" "ubuntu" "~rc") in many versions
def _non_digits(run: str) -> tuple[int, ...]:
    # The trailing 0 stands for "end of run": lower than any character but "~".
    return (*(_weight(c) for c in run), 0)


def _part(text: str) -> tuple[object, ...]:
    """Key of an upstream version or a revision: (run0, digits0, run1, digits1, ..., END, 0).

    Only the first non-digit run can be empty, so the closing ``(END, 0)`` pair compares with the
    other string's remaining pairs exactly as dpkg compares them with "nothing left".
    """
    runs = _RUNS.findall(text)
    out: list[object] = []
    if not runs or runs[0][0].isdigit():
        out.append(_END)  # an empty first non-digit run
    out.extend(int(run) if run[0].isdigit() else _non_digits(run) for run in runs)
    if len(out) % 2:  # ended on a non-digit run: an empty digit run counts as 0
        out.append(0)
    out.extend((_END, 0))
    return tuple(out)


def dpkg_key(version: str) -> DpkgKey:
    """The sort key of a Debian version; raises ValueError for a string dpkg would refuse."""
    match = _VERSION.match(version)
    if match is None or version.endswith("-"):  # dpkg refuses an empty revision
        raise ValueError(f"not a Debian version: {version!r}")
    epoch, upstream, revision = match.group("epoch", "upstream", "revision")
    if epoch is None and ":" in upstream:
        raise ValueError(f"not a Debian version (a colon without an epoch): {version!r}")
    return (int(epoch or 0), _part(upstream), _part(revision or "0"))
