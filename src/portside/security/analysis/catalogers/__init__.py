"""The catalogers: each finds one kind of software in the merged files of interest.

Every cataloger module has ``wants(path) -> bool`` (is this file one it reads?) and, except
:mod:`.osrelease`, ``catalog(files, os_release) -> list[Package]``. :func:`is_interesting`
joins the ``wants`` of all: it is what the layer reader keeps.
"""

from __future__ import annotations

from collections.abc import Callable

from portside.security.analysis.catalogers import apk, dpkg, npm, osrelease, python, rpm

_WANTS: tuple[Callable[[str], bool], ...] = (
    osrelease.wants,
    dpkg.wants,
    apk.wants,
    rpm.wants,
    python.wants,
    npm.wants,
)


def is_interesting(path: str) -> bool:
    """True for a normalized path (``var/lib/dpkg/status``) some cataloger reads."""
    return any(wants(path) for wants in _WANTS)


def is_large_database(path: str) -> bool:
    """True for the package databases that may be large (rpm's): ``max_database_bytes``."""
    return rpm.wants(path)
