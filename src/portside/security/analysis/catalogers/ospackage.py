"""A :class:`Package` of a distribution (deb, apk, rpm), its purl carrying the distribution."""

from __future__ import annotations

from collections.abc import Mapping

from portside.security.analysis.files import MergedFile
from portside.security.analysis.purl import purl, upstream
from portside.security.packages import Ecosystem, OsRelease, Package

# The purl namespace when the image has no os-release.
_DEFAULT_VENDOR: dict[str, str | None] = {"deb": "debian", "apk": "alpine", "rpm": None}
# os-release IDs whose purl vendor is spelled otherwise.
_VENDORS = {"rhel": "redhat"}


def vendor(ecosystem: str, os_release: OsRelease | None) -> str | None:
    if os_release is None:
        return _DEFAULT_VENDOR.get(ecosystem)
    return _VENDORS.get(os_release.id, os_release.id)


def os_package(
    ecosystem: Ecosystem,
    os_release: OsRelease | None,
    found_in: tuple[str, MergedFile],
    *,
    name: str,
    version: str,
    arch: str | None,
    source_name: str | None,
    source_version: str | None,
    purl_version: str | None = None,
    qualifiers: Mapping[str, str | None] | None = None,
) -> Package:
    """``purl_version`` (rpm: without the epoch) and ``qualifiers`` go to the purl only."""
    path, file = found_in
    all_qualifiers: dict[str, str | None] = {
        "arch": arch,
        "distro": os_release.distro if os_release else None,
        "upstream": upstream(name, version, source_name, source_version),
        **(qualifiers or {}),
    }
    return Package(
        name=name,
        version=version,
        ecosystem=ecosystem,
        purl=purl(
            ecosystem, vendor(ecosystem, os_release), name, purl_version or version, all_qualifiers
        ),
        layer_digest=file.layer_digest,
        path=path,
        source_name=source_name,
        source_version=source_version,
        arch=arch,
    )
