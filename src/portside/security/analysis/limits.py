"""How much of a layer the scanner accepts, and the error for a layer it refuses.

A layer is untrusted input: anyone who can push an image chooses its bytes. Every size the
reader grows with is bounded by :class:`Limits`, and passing a bound raises
:class:`LayerRejected` naming the limit and the file, before the memory or time is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from portside.errors import PortsideError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


class LayerRejected(PortsideError):
    """A layer the scanner refuses: over a limit, corrupt, truncated, or hostile.

    ``limit`` names the limit passed (``None`` for a corrupt layer) and ``path`` the tar entry
    at fault when there is one.
    """

    def __init__(self, message: str, *, limit: str | None = None, path: str | None = None):
        super().__init__(message)
        self.limit = limit
        self.path = path


class UnsupportedLayer(LayerRejected):
    """A layer this scanner cannot read (an unknown media type, zstd without ``zstandard``)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on one layer. The defaults fit real images with a wide margin."""

    max_decompressed_bytes: int = 2 * GiB
    """The whole uncompressed tar stream."""
    max_files: int = 500_000
    """Tar entries of every kind (files, directories, links, whiteouts)."""
    max_file_bytes: int = 64 * MiB
    """One file of interest (a METADATA, a dpkg status); other files are skipped unread."""
    max_database_bytes: int = 384 * MiB
    """One rpm database: those of large RHEL/CentOS images pass 64 MiB."""
    max_kept_bytes: int = 512 * MiB
    """All the files of interest of one layer together: what the reader holds in memory."""
    max_path_length: int = 4096
    """One entry's path, and a GNU long name or PAX record holding it."""
    max_pax_bytes: int = 1 * MiB
    """One PAX extended header."""

    def __post_init__(self) -> None:
        for name in (
            "max_decompressed_bytes",
            "max_files",
            "max_file_bytes",
            "max_database_bytes",
            "max_kept_bytes",
            "max_path_length",
            "max_pax_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive")
