"""rpm packages: the rpm database of RHEL, Fedora, CentOS, Amazon Linux, SUSE...

The database is the first of :data:`DATABASES` present in the image (rpm keeps one), its format
told by its first bytes, not its name. Each header blob becomes a package; ``gpg-pubkey``
entries (imported signing keys, not software) are left out. A database that cannot be read
raises :class:`~portside.security.analysis.packages.UnreadableDatabase` naming the format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from portside.security.analysis.catalogers.ospackage import os_package
from portside.security.analysis.catalogers.rpmdb import bdb, ndb, sqlite
from portside.security.analysis.catalogers.rpmdb.header import (
    RpmHeader,
    parse_header,
    source_package,
)
from portside.security.analysis.files import MergedFile
from portside.security.analysis.packages import UnreadableDatabase
from portside.security.packages import OsRelease, Package

_DIRECTORIES = ("usr/lib/sysimage/rpm", "var/lib/rpm")
_NAMES = ("rpmdb.sqlite", "Packages.db", "Packages")  # newest format first
DATABASES = tuple(f"{directory}/{name}" for name in _NAMES for directory in _DIRECTORIES)

_FORMATS: tuple[tuple[str, Callable[[bytes], bool], Callable[[bytes], Iterable[bytes]]], ...] = (
    ("SQLite", lambda data: data.startswith(sqlite.SQLITE_MAGIC), sqlite.header_blobs),
    ("Berkeley DB", bdb.is_bdb_hash, bdb.header_blobs),
    ("ndb", lambda data: data.startswith(ndb.MAGIC), ndb.header_blobs),
)


def wants(path: str) -> bool:
    return path in DATABASES


def catalog(files: Mapping[str, MergedFile], os_release: OsRelease | None) -> list[Package]:
    for path in DATABASES:
        if path in files:
            return read_database(path, files[path], os_release)
    return []


def read_database(path: str, file: MergedFile, os_release: OsRelease | None) -> list[Package]:
    for format_name, matches, header_blobs in _FORMATS:
        if matches(file.content):
            try:
                headers = [parse_header(blob) for blob in header_blobs(file.content)]
            except ValueError as exc:
                raise UnreadableDatabase(
                    f"rpm database {path} ({format_name}) is unreadable: {exc}"
                ) from exc
            return [
                _package(header, path, file, os_release)
                for header in headers
                if header.name != "gpg-pubkey"
            ]
    raise UnreadableDatabase(f"unsupported rpm database format: {path} is not one rpm writes")


def _package(
    header: RpmHeader, path: str, file: MergedFile, os_release: OsRelease | None
) -> Package:
    epoch = f"{header.epoch}:" if header.epoch is not None else ""
    version = f"{header.version}-{header.release}"
    source = source_package(header.source_rpm) if header.source_rpm else None
    return os_package(
        "rpm",
        os_release,
        (path, file),
        name=header.name,
        version=epoch + version,
        arch=header.arch,
        source_name=source[0] if source else None,
        source_version=epoch + source[1] if source else None,
        purl_version=version,
        qualifiers={"epoch": str(header.epoch) if header.epoch is not None else None},
    )
