"""RPM version order (rpmvercmp with epochs), as a sort key.

``[epoch:]version[-release]``: the epoch compares as an integer (missing = 0), then the version,
then the release, each with rpm's ``rpmvercmp``: the string is cut into runs of digits and runs
of ASCII letters (every other character only separates runs), compared run by run; digits beat
letters, numbers compare as integers, letters as strings; ``~`` sorts before anything, even the
end of the string (``1.0~rc1 < 1.0``), and ``^`` sorts after the end of the string but before
anything else (``1.0 < 1.0^git1 < 1.0.1``). Where one string runs out, the longer one is newer.

Each run becomes ``(rank, value)`` with ranks in that order, so plain tuple comparison gives
rpm's answer. The tests check the key against ``rpm.vercmp``'s results.
"""

from __future__ import annotations

import re

_TILDE, _END, _CARET, _LETTERS, _DIGITS = range(5)
_RUNS = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")
_EPOCH = re.compile(r"^(\d+):", re.ASCII)
_ALLOWED = re.compile(r"^[A-Za-z0-9._+~^-]+$")

RpmPart = tuple[tuple[int, int | str], ...]
RpmKey = tuple[int, RpmPart, RpmPart]


def _part(text: str) -> RpmPart:
    out: list[tuple[int, int | str]] = []
    for run in _RUNS.findall(text):
        if run == "~":
            out.append((_TILDE, 0))
        elif run == "^":
            out.append((_CARET, 0))
        elif run[0].isdigit():
            out.append((_DIGITS, int(run)))
        else:
            out.append((_LETTERS, run))
    out.append((_END, 0))
    return tuple(out)


def rpm_key(version: str) -> RpmKey:
    """The sort key of an RPM ``[epoch:]version[-release]``; raises ValueError if invalid."""
    epoch = 0
    match = _EPOCH.match(version)
    if match is not None:
        epoch = int(match.group(1))
        version = version[match.end() :]
    if not _ALLOWED.match(version):
        raise ValueError(f"not an RPM version: {version!r}")
    upstream, _, release = version.rpartition("-") if "-" in version else (version, "", "")
    if not upstream:
        raise ValueError(f"not an RPM version (empty version part): {version!r}")
    return (epoch, _part(upstream), _part(release))
