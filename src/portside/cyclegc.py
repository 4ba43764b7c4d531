"""Pausing Python's cycle collector around a bulk computation.

The collector runs a full pass whenever the objects that survived earlier passes have grown by a
quarter, and a full pass walks every container object in the process. A re-match builds an
advisory index and the findings of a thousand images (millions of dicts, tuples and lists, all
alive until it ends): the collector walked them dozens of times, for about a third of the
re-match's time, and found nothing to free, since the data holds no garbage cycles.

:func:`paused` turns the collector off for a block and back on after it, even on error. It is
the whole process's collector: other tasks running meanwhile allocate without it too; plain
reference counting still frees everything that is not in a cycle, and cycles made meanwhile are
collected by the next pass after the block.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The cycle collector off for the block (left as it was if already off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def importing() -> Iterator[None]:
    """For a block that imports modules: the collector paused meanwhile, and what the block
    left alive frozen after it (moved to the permanent generation), since module objects live
    as long as the process: later collections need not walk them again and again."""
    with paused():
        yield
    gc.freeze()


def before_exit() -> None:
    """For a process on its way out: every live object goes to the collector's permanent
    generation, so the interpreter's last collections do not walk them all for nothing
    (about 0.1 s of a short command such as `portside scan`)."""
    gc.freeze()
