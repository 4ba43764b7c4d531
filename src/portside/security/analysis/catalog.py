"""Every package of an image: all catalogers run on the merged files of interest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from portside.security.analysis.catalogers import apk, dpkg, npm, python, rpm
from portside.security.analysis.files import MergedFile
from portside.security.analysis.packages import Catalog, UnreadableDatabase
from portside.security.packages import OsRelease, Package

logger = logging.getLogger(__name__)

Cataloger = Callable[[Mapping[str, MergedFile], OsRelease | None], list[Package]]

CATALOGERS: tuple[tuple[str, Cataloger], ...] = (
    ("dpkg", dpkg.catalog),
    ("apk", apk.catalog),
    ("rpm", rpm.catalog),
    ("python", python.catalog),
    ("npm", npm.catalog),
)


def catalog(files: Mapping[str, MergedFile], os_release: OsRelease | None) -> Catalog:
    """The packages found in ``files`` (from :func:`portside.security.analysis.filesystem.merge`).

    ``os_release`` (from :func:`portside.security.analysis.catalogers.osrelease.detect`) goes into
    the purls
    of the distribution's packages. A database that cannot be read does not stop the others:
    it becomes one of the result's ``notes``.
    """
    result = Catalog()
    for name, cataloger in CATALOGERS:
        try:
            result.extend(cataloger(files, os_release))
        except UnreadableDatabase as exc:
            logger.warning("%s cataloger: %s", name, exc)
            result.notes.append(str(exc))
    return result
