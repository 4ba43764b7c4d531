"""Debian packages: `var/lib/dpkg/status`, and `status.d/*` files of distroless images."""

from __future__ import annotations

import re
from collections.abc import Mapping

from portside.security.analysis.catalogers.ospackage import os_package
from portside.security.analysis.catalogers.stanzas import stanzas
from portside.security.analysis.files import MergedFile
from portside.security.packages import OsRelease, Package

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"

_SOURCE = re.compile(r"(?P<name>\S+)(?:\s*\((?P<version>[^)]*)\))?")


def wants(path: str) -> bool:
    if path == STATUS:
        return True
    return (
        path.startswith(STATUS_D)
        and "/" not in path[len(STATUS_D) :]
        and not path.endswith(".md5sums")
    )


def catalog(files: Mapping[str, MergedFile], os_release: OsRelease | None) -> list[Package]:
    packages: list[Package] = []
    for path in sorted(files):
        if wants(path):
            packages.extend(read_status(path, files[path], os_release))
    return packages


def read_status(path: str, file: MergedFile, os_release: OsRelease | None) -> list[Package]:
    """The installed packages of one status file (status.d files have no ``Status`` field)."""
    distroless = path != STATUS
    packages = []
    for stanza in stanzas(file.content.decode("utf-8", "replace")):
        name, version = stanza.get("package"), stanza.get("version")
        if not name or not version:
            continue
        if not distroless and not is_installed(stanza.get("status", "")):
            continue
        source_name, source_version = name, version
        if match := _SOURCE.match(stanza.get("source", "")):
            source_name = match.group("name")
            source_version = match.group("version") or version
        packages.append(
            os_package(
                "deb",
                os_release,
                (path, file),
                name=name,
                version=version,
                arch=stanza.get("architecture") or None,
                source_name=source_name,
                source_version=source_version,
            )
        )
    return packages


def is_installed(status: str) -> bool:
    """``Status: <want> <flag> <status>``: installed whatever is wanted (``install``, ``hold``)."""
    words = status.split()
    return len(words) == 3 and words[1] == "ok" and words[2] == "installed"
