"""What the catalogers find: :class:`Package`, and the error for a database they cannot read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from portside.errors import PortsideError

Ecosystem = Literal["deb", "apk", "rpm", "pypi", "npm"]


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package of an image."""

    name: str
    version: str
    """As the package manager compares it: dpkg ``[epoch:]upstream[-revision]``, apk's
    ``1.2.3-r4``, rpm ``[epoch:]version-release``, the PyPI or npm version string."""
    ecosystem: Ecosystem
    purl: str
    layer_digest: str
    """The layer whose copy of the database (or metadata file) lists the package."""
    path: str
    """That file, inside the image (no leading ``/``)."""
    source_name: str | None = None
    """The source package built into this one (deb ``Source:``, apk ``o:``, rpm SOURCERPM)."""
    source_version: str | None = None
    arch: str | None = None


class UnreadableDatabase(PortsideError):
    """A package database the scanner found but cannot read: its packages are unknown.

    Catalogers raise it; :func:`portside.security.analysis.catalog.catalog` turns it into a note of
    the
    result, so one unreadable database does not hide the packages of the others.
    """


class Catalog(list[Package]):
    """The packages of an image, with ``notes`` on what could not be read (empty when all was)."""

    def __init__(self, packages: Iterable[Package] = (), notes: Iterable[str] = ()) -> None:
        super().__init__(packages)
        self.notes: list[str] = list(notes)
