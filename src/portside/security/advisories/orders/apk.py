"""Alpine version order (apk-tools), as a sort key.

``1.2.3``, ``1.2.3a``, ``1.2.3_rc1``, ``1.2.3_p2``, ``1.2.3-r1``, ``2.40_git20230831-r0``: the
version is read as tokens (numbers, a letter, suffixes, the ``-rN`` revision) the way apk-tools
does, and two versions compare token by token. Where the tokens' kinds differ, a pre-release
suffix (``_alpha``, ``_beta``, ``_pre``, ``_rc``) sorts lowest, and otherwise the version that goes
on with a "smaller" kind of token wins (a ``.N`` component beats a letter, which beats a suffix,
which beats a revision, which beats the end of the string). So
``1.2.3_rc1 < 1.2.3 < 1.2.3_p1 < 1.2.3-r1 < 1.2.3a < 1.2.3.1``.

Each token becomes ``(rank, value)`` with ranks chosen so that plain tuple comparison gives
apk's answer. univers' ``AlpineLinuxVersion`` is not used: it implements Gentoo's order, which
refuses ``_git``/``_svn``/``_hg``/``_cvs`` suffixes and leading zeros that Alpine accepts.
"""

from __future__ import annotations

# apk's token kinds, in apk-tools' order: when two versions differ in the kind of their next
# token, the one with the higher kind is the lesser version.
_DOT_NUMBER, _NUMBER, _LETTER, _SUFFIX, _SUFFIX_NUMBER, _REVISION, _END = range(7)
_PRE_RELEASE_RANK = -100  # a pre-release suffix sorts below anything

_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")  # values -4..-1
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")  # values 0..4

ApkKey = tuple[tuple[int, int], ...]


def _is_digit(char: str) -> bool:
    return "0" <= char <= "9"


def _digits_end(text: str, start: int) -> int:
    end = start
    while end < len(text) and _is_digit(text[end]):
        end += 1
    return end


def _suffix(text: str, start: int) -> tuple[int, int]:
    """(value, length) of the suffix name at ``start``; pre-release names have negative values."""
    for index, name in enumerate(_PRE_SUFFIXES):
        if text.startswith(name, start):
            return index - len(_PRE_SUFFIXES), len(name)
    for index, name in enumerate(_POST_SUFFIXES):
        if text.startswith(name, start):
            return index, len(name)
    raise ValueError(f"unknown suffix in Alpine version {text!r}")


def _next_kind(text: str, pos: int, kind: int) -> tuple[int, int]:
    """The kind of the token starting at ``pos`` after a token of ``kind``, and where it starts."""
    if pos >= len(text):
        return _END, pos
    char = text[pos]
    if kind in (_NUMBER, _DOT_NUMBER) and "a" <= char <= "z":
        new, start = _LETTER, pos
    elif kind == _LETTER and _is_digit(char):
        new, start = _NUMBER, pos
    elif kind == _SUFFIX and _is_digit(char):
        new, start = _SUFFIX_NUMBER, pos
    elif char == ".":
        new, start = _DOT_NUMBER, pos + 1
    elif char == "_":
        new, start = _SUFFIX, pos + 1
    elif text.startswith("-r", pos):
        new, start = _REVISION, pos + 2
    else:
        raise ValueError(f"unexpected {char!r} in Alpine version {text!r}")
    allowed_backwards = {(_DOT_NUMBER, _NUMBER), (_SUFFIX, _SUFFIX_NUMBER), (_NUMBER, _LETTER)}
    if new < kind and (new, kind) not in allowed_backwards:
        raise ValueError(f"misplaced {char!r} in Alpine version {text!r}")
    return new, start


def _read(text: str, pos: int, kind: int) -> tuple[tuple[int, int], int, int | None]:
    """Read one token: its key, where the next one starts, and a forced next kind if any."""
    if kind == _DOT_NUMBER and text.startswith("0", pos):
        end = pos
        while end < len(text) and text[end] == "0":
            end += 1
        # Leading zeros count as a negative number of zeros; what follows reads as a number.
        return (-kind, pos - end), end, _NUMBER
    if kind in (_DOT_NUMBER, _NUMBER, _SUFFIX_NUMBER, _REVISION):
        end = _digits_end(text, pos)
        return (-kind, int(text[pos:end] or 0)), end, None
    if kind == _LETTER:
        return (-kind, ord(text[pos])), pos + 1, None
    value, length = _suffix(text, pos)
    rank = _PRE_RELEASE_RANK if value < 0 else -kind
    return (rank, value), pos + length, None


def apk_key(version: str) -> ApkKey:
    """The sort key of an Alpine package version; raises ValueError for an invalid one."""
    if not version or not _is_digit(version[0]):
        raise ValueError(f"not an Alpine version: {version!r}")
    tokens: list[tuple[int, int]] = []
    pos, kind = 0, _NUMBER
    while True:
        token, pos, forced = _read(version, pos, kind)
        tokens.append(token)
        if pos >= len(version):
            break
        if forced is not None:
            kind = forced
        else:
            kind, pos = _next_kind(version, pos, kind)
            if kind == _END:
                break
    tokens.append((-_END, 0))
    return tuple(tokens)
