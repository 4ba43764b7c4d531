"""The data passed from reading layers to merging them to cataloging the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class LayerFiles:
    """What one layer contributes to the files of interest."""

    digest: str
    files: dict[str, bytes]
    """The regular files of interest the layer adds or replaces, by normalized path."""
    whiteouts: frozenset[str] = frozenset()
    """Paths the layer deletes from lower layers (with everything below them)."""
    opaque_dirs: frozenset[str] = frozenset()
    """Directories whose lower-layer content the layer hides (``""`` is the root)."""
    replaced: frozenset[str] = frozenset()
    """Paths where the layer puts a link, device or fifo: lower content there is hidden too."""
    entries: int = field(default=0, compare=False)
    """Tar entries read (every kind)."""


class MergedFile(NamedTuple):
    content: bytes
    layer_digest: str
    """The layer the file's final content comes from."""
