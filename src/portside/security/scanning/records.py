"""The storage boundary of the security wing: packages and OS releases as the JSON stored in
``scan_targets.packages`` and ``scan_targets.os`` (and shown in reports), and back.

The stored format is unchanged: a package is ``{"name", "version", "ecosystem" (the package
type), "purl", "source_name", "source_version", "arch", "layer", "path"}``, an OS release
``{"id", "version_id", "version_codename", "pretty_name"}``. Reading back is lenient (a field
missing or of the wrong type becomes empty), so a row written by an older version still reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from portside.security.packages import OsRelease, Package


def package_record(package: Package) -> dict[str, Any]:
    """A package as stored in ``scan_targets.packages`` (re-matched without a download)."""
    return {
        "name": package.name,
        "version": package.version,
        "ecosystem": package.ecosystem,
        "purl": package.purl,
        "source_name": package.source_name,
        "source_version": package.source_version,
        "arch": package.arch,
        "layer": package.layer_digest,
        "path": package.path,
    }


def os_record(os_release: OsRelease | None) -> dict[str, Any] | None:
    if os_release is None:
        return None
    return {
        "id": os_release.id,
        "version_id": os_release.version_id,
        "version_codename": os_release.version_codename,
        "pretty_name": os_release.pretty_name,
    }


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _optional(value: object) -> str | None:
    return value if isinstance(value, str) else None


def package_of(record: Mapping[str, Any]) -> Package | None:
    """A stored package record as a :class:`Package`; None when it names no name, version and
    type (nothing to match)."""
    name, version, kind = record.get("name"), record.get("version"), record.get("ecosystem")
    if not (isinstance(name, str) and isinstance(version, str) and isinstance(kind, str)):
        return None
    return Package(
        name=name,
        version=version,
        ecosystem=kind,
        purl=_text(record.get("purl")),
        layer_digest=_text(record.get("layer")),
        path=_text(record.get("path")),
        source_name=_optional(record.get("source_name")),
        source_version=_optional(record.get("source_version")),
        arch=_optional(record.get("arch")),
    )


def packages_of(records: Iterable[Mapping[str, Any]]) -> list[Package]:
    return [p for record in records if (p := package_of(record)) is not None]


def os_of(record: Mapping[str, Any] | None) -> OsRelease | None:
    """A stored OS record as an :class:`OsRelease`; None without one."""
    if not record:
        return None
    return OsRelease(
        id=_text(record.get("id")),
        version_id=_optional(record.get("version_id")) or None,
        version_codename=_optional(record.get("version_codename")) or None,
        pretty_name=_optional(record.get("pretty_name")) or None,
    )
