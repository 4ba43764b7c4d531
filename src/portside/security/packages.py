"""What an image holds, as the security wing passes it from cataloging to matching (pure).

:class:`OsRelease` is the image's distribution (its ``os-release``); :class:`Package` one
installed package, its :attr:`Package.ecosystem` the package type the catalogers found
(``deb``, ``apk``, ``rpm``, ``pypi``, ``npm``). The matcher places a package in the OSV ecosystem
its advisories use (``Debian:12``, ``PyPI``; :mod:`portside.security.advisories.ecosystems`).
Both travel typed; they become JSON only where they are stored
(:mod:`portside.security.scanning.records`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Ecosystem = Literal["deb", "apk", "rpm", "pypi", "npm"]
OS_ECOSYSTEMS: frozenset[str] = frozenset({"deb", "apk", "rpm"})
"""The package types of the distribution's own package managers."""


@dataclass(frozen=True, slots=True)
class OsRelease:
    """The fields of an image's ``/etc/os-release`` that name its distribution."""

    id: str
    """``ID``: ``debian``, ``ubuntu``, ``alpine``, ``rhel``, ``fedora``..."""
    version_id: str | None = None
    version_codename: str | None = None
    pretty_name: str | None = None
    id_like: tuple[str, ...] = ()

    @property
    def distro(self) -> str:
        """The purl ``distro`` qualifier: ``debian-12``, ``alpine-3.19.1``."""
        release = self.version_id or self.version_codename
        return f"{self.id}-{release}" if release else self.id


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package of an image."""

    name: str
    version: str
    """As the package manager compares it: dpkg ``[epoch:]upstream[-revision]``, apk's
    ``1.2.3-r4``, rpm ``[epoch:]version-release``, the PyPI or npm version string."""
    ecosystem: str
    """The package type (:data:`Ecosystem`): ``deb``, ``apk``, ``rpm``, ``pypi``, ``npm``."""
    purl: str = ""
    layer_digest: str = ""
    """The layer whose copy of the database (or metadata file) lists the package."""
    path: str = ""
    """That file, inside the image (no leading ``/``)."""
    source_name: str | None = None
    """The source package built into this one (deb ``Source:``, apk ``o:``, rpm SOURCERPM)."""
    source_version: str | None = None
    arch: str | None = None

    @property
    def from_os(self) -> bool:
        """Whether the distribution's package manager installed it (its advisories are the
        distribution's)."""
        return self.ecosystem in OS_ECOSYSTEMS
