"""Alpine packages: the apk database ``lib/apk/db/installed``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from portside.security.analysis.catalogers.ospackage import os_package
from portside.security.analysis.files import MergedFile
from portside.security.packages import OsRelease, Package

# apk-tools 3 may keep it under usr/; the first found is the database.
INSTALLED = ("lib/apk/db/installed", "usr/lib/apk/db/installed")


def wants(path: str) -> bool:
    return path in INSTALLED


def catalog(files: Mapping[str, MergedFile], os_release: OsRelease | None) -> list[Package]:
    for path in INSTALLED:
        if path in files:
            return read_installed(path, files[path], os_release)
    return []


def records(text: str) -> Iterator[dict[str, str]]:
    """Each package's ``X:value`` lines (the first of each letter), blank line between."""
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                yield current
            current = {}
        elif len(line) >= 2 and line[1] == ":":
            current.setdefault(line[0], line[2:])
    if current:
        yield current


def read_installed(path: str, file: MergedFile, os_release: OsRelease | None) -> list[Package]:
    packages = []
    for record in records(file.content.decode("utf-8", "replace")):
        name, version = record.get("P"), record.get("V")
        if not name or not version:
            continue
        packages.append(
            os_package(
                "apk",
                os_release,
                (path, file),
                name=name,
                version=version,
                arch=record.get("A") or None,
                source_name=record.get("o") or name,
                source_version=version,
            )
        )
    return packages
