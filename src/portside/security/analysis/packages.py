"""What the catalogers return: a :class:`Catalog` of :class:`~portside.security.packages.Package`,
and the error for a database they cannot read."""

from __future__ import annotations

from collections.abc import Iterable

from portside.errors import PortsideError
from portside.security.packages import Package


class UnreadableDatabase(PortsideError):
    """A package database the scanner found but cannot read: its packages are unknown.

    Catalogers raise it; :func:`~portside.security.analysis.catalog.catalog` turns it into a note
    of the result, so one unreadable database does not hide the packages of the others.
    """


class Catalog(list[Package]):
    """The packages of an image, with ``notes`` on what could not be read (empty when all was)."""

    def __init__(self, packages: Iterable[Package] = (), notes: Iterable[str] = ()) -> None:
        super().__init__(packages)
        self.notes: list[str] = list(notes)
