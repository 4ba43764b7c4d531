"""Files that hold secrets (tokens, the embedded registry's configuration, the SQLite database)
are created readable by their owner only, whatever the umask: the mode is set when the file is
created, before a byte is written, never by a ``chmod`` afterwards."""

from __future__ import annotations

import os
from pathlib import Path

MODE = 0o600


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (created or truncated) with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, MODE)
    try:
        os.fchmod(fd, MODE)  # a file that existed keeps its old mode otherwise
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            fd = -1
            stream.write(text)
    finally:
        if fd >= 0:
            os.close(fd)


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True when it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def open_private_log(path: Path) -> int:
    """A file descriptor appending to ``path``, created with mode 0600 if it is new."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, MODE)
