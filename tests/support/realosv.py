"""Where the real OSV records are (../shared/realosv/osv, see its SOURCES.md): read from there,
never copied into the repository. ``PORTSIDE_REAL_OSV`` names the folder when the checkout
is elsewhere (a git worktree one level deeper looks in the parents too)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def real_osv() -> Path:
    """The folder of real OSV records; a clear failure when it is missing."""
    given = os.environ.get("PORTSIDE_REAL_OSV")
    candidates = (
        [Path(given)] if given else [p / "shared" / "realosv" / "osv" for p in ROOT.parents]
    )
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(
        "the real OSV records (../shared/realosv/osv) are not here: set PORTSIDE_REAL_OSV"
    )


def real_records(*ids: str) -> list[Path]:
    """The named records' files (each must exist)."""
    folder = real_osv()
    files = [folder / f"{record}.json" for record in ids]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: no {', '.join(missing)}")
    return files
