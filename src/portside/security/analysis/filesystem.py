"""The image's file system, as far as the files of interest go: layers applied in order.

Each layer may delete from the layers below it (whiteouts, opaque directories, a link or other
non-file put where a file or directory was) and add or replace files. A later layer's copy of a
package database therefore replaces an earlier one, and a database deleted by a later layer is
gone, exactly as in the running container.

Not modelled: a plain file that is not of interest put where a lower layer had a directory of
files of interest (the reader does not record such files); links and devices are.
"""

from __future__ import annotations

from collections.abc import Sequence

from portside.security.analysis.files import LayerFiles, MergedFile
from portside.security.analysis.paths import ancestors


def merge(layers: Sequence[LayerFiles]) -> dict[str, MergedFile]:
    """The final view of the files of interest, bottom layer first in ``layers``."""
    merged: dict[str, MergedFile] = {}
    parents: dict[str, tuple[str, ...]] = {}  # each path's directories, computed once
    for layer in layers:
        for path in layer.files:
            if path not in parents:
                parents[path] = tuple(ancestors(path))
        if merged:
            merged = _survivors(merged, layer, parents)
        for path, content in layer.files.items():
            merged[path] = MergedFile(content, layer.digest)
    return merged


def _survivors(
    lower: dict[str, MergedFile], layer: LayerFiles, parents: dict[str, tuple[str, ...]]
) -> dict[str, MergedFile]:
    """The lower layers' files that ``layer`` does not hide."""
    if "" in layer.opaque_dirs:  # an opaque root hides everything below
        return {}
    # Deleted with everything below: whiteouts, non-files, and the layer's own files (a file
    # put where a lower layer had a directory hides that directory's content).
    gone = layer.whiteouts.union(layer.replaced, layer.files)
    hiding_below = gone.union(layer.opaque_dirs)
    # A directory of the layer hides a lower file of the same path.
    directories = set().union(*(parents[path] for path in layer.files))
    return {
        path: file
        for path, file in lower.items()
        if path not in gone and path not in directories and hiding_below.isdisjoint(parents[path])
    }
