"""Paths inside a layer: normalized, never escaping the root, and what whiteouts mean.

A tar entry's name is attacker-chosen. :func:`normalize` turns it into the one form the scanner
uses everywhere, ``usr/lib/os-release`` (no leading ``/`` or ``./``), or refuses it: a name with a
``..`` component or a NUL is dropped whole rather than resolved, so nothing can land outside the
image's root and no two spellings name the same file.
"""

from __future__ import annotations

from collections.abc import Iterator

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


def normalize(name: str) -> str | None:
    """The canonical form of a tar entry's name, or ``None`` for a name to ignore.

    Leading ``/`` and ``./`` go, as do empty and ``.`` components; a ``..`` component or a NUL
    refuses the name; the root itself (``./``) is ``None`` too, having nothing to record.
    """
    if "\x00" in name:
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def parent(path: str) -> str:
    """The directory holding ``path`` (``""`` for the root)."""
    return path.rpartition("/")[0]


def basename(path: str) -> str:
    return path.rpartition("/")[2]


def ancestors(path: str) -> Iterator[str]:
    """The directories above ``path``, nearest first, the root excluded: ``a/b/c`` -> a/b, a."""
    end = path.rfind("/")
    while end > 0:
        yield path[:end]
        end = path.rfind("/", 0, end)


def join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def whiteout_target(path: str) -> str | None:
    """The path a whiteout entry deletes from lower layers, or ``None`` if ``path`` is none.

    ``a/.wh.b`` deletes ``a/b``. The opaque marker and other ``.wh..wh.`` names (aufs metadata)
    are not whiteouts of a file.
    """
    name = basename(path)
    if not name.startswith(WHITEOUT_PREFIX) or name.startswith(WHITEOUT_PREFIX * 2):
        return None
    target = name[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        return None
    return join(parent(path), target)


def opaque_directory(path: str) -> str | None:
    """The directory an opaque marker ``d/.wh..wh..opq`` empties of lower layers' files."""
    if basename(path) != OPAQUE_MARKER:
        return None
    return parent(path)


def is_whiteout_name(path: str) -> bool:
    """True for every ``.wh.``-prefixed name: never a real file of the image."""
    return basename(path).startswith(WHITEOUT_PREFIX)
