"""OSV ecosystem names: from an image's OS release or a package type, and as index keys.

Advisories name their package with an ecosystem string (``Debian:12``, ``Ubuntu:22.04:LTS``,
``Alpine:v3.20``, ``Red Hat:enterprise_linux:9::appstream``, ``PyPI``...). The part before the
first colon is the *family*, which decides the version order. The *index key* of an ecosystem
folds the spellings that describe the same set of packages (``Ubuntu:22.04`` and
``Ubuntu:22.04:LTS``; the streams of one RHEL major release), so that an image's packages find
their advisories whichever spelling a record used.

Names: OS advisories name the *source* package (Debian, Ubuntu, Alpine's origin, the RPM-based
distributions' source RPM; Red Hat's may name a binary RPM too); PyPI names are compared in
their PEP 503 normal form.
"""

from __future__ import annotations

import re
from functools import lru_cache

from portside.security.packages import OsRelease

_DEBIAN_CODENAMES = {
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
}
_MAJOR_MINOR = re.compile(r"^(\d+)(?:\.(\d+))?", re.ASCII)
_PEP503 = re.compile(r"[-_.]+")
_RHEL_STREAM = re.compile(r"^Red Hat:enterprise_linux:(\d+)(?::|$)")

PACKAGE_ECOSYSTEMS = {
    "pypi": "PyPI",
    "npm": "npm",
    "golang": "Go",
    "go": "Go",
    "cargo": "crates.io",
    "gem": "RubyGems",
    "maven": "Maven",
    "nuget": "NuGet",
    "composer": "Packagist",
}

# Ecosystems whose advisories may name the binary package rather than the source one.
BINARY_NAMED_FAMILIES = frozenset({"Red Hat"})


def family(ecosystem: str) -> str:
    """``Ubuntu:22.04:LTS`` -> ``Ubuntu``; ``PyPI`` -> ``PyPI``."""
    return ecosystem.split(":", 1)[0]


@lru_cache(maxsize=4096)  # asked for every advisory entry and package: few distinct spellings
def index_ecosystem(ecosystem: str) -> str:
    """The key under which advisories of ``ecosystem`` are indexed and looked up."""
    if ecosystem.startswith("Ubuntu:") and ecosystem.endswith(":LTS"):
        return ecosystem.removesuffix(":LTS")
    rhel = _RHEL_STREAM.match(ecosystem)
    if rhel is not None:
        return f"Red Hat:enterprise_linux:{rhel.group(1)}"
    return ecosystem


_SLE_PRODUCT = re.compile(r"^SUSE:Linux Enterprise Server (\d+(?: SP\d+)?)$")


@lru_cache(maxsize=4096)
def lookup_ecosystems(ecosystem: str) -> tuple[str, ...]:
    """The index keys to search for a package of ``ecosystem`` (its own first).

    SUSE files most of a SLES system's packages under the module that ships them, or under the
    product's LTSS name, rather than under the product: those are searched too.
    """
    own = index_ecosystem(ecosystem)
    sle = _SLE_PRODUCT.match(ecosystem)
    if sle is None:
        return (own,)
    release = sle.group(1)
    return (
        own,
        f"SUSE:Linux Enterprise Server {release}-LTSS",
        f"SUSE:Linux Enterprise Module for Basesystem {release}",
        f"SUSE:Linux Enterprise Module for Server Applications {release}",
    )


def normalize_name(ecosystem: str, name: str) -> str:
    """A package name as it is indexed: PEP 503 for PyPI, unchanged elsewhere."""
    if family(ecosystem) == "PyPI":
        return _PEP503.sub("-", name).lower()
    return name


def package_ecosystem(kind: str) -> str | None:
    """The OSV ecosystem of a language package type (purl type): ``pypi`` -> ``PyPI``."""
    return PACKAGE_ECOSYSTEMS.get(kind.lower())


def os_ecosystem(release: OsRelease) -> str | None:
    """The OSV ecosystem of an OS release, or None when OSV has no data for it.

    ``debian 12`` -> ``Debian:12``; ``ubuntu 22.04`` -> ``Ubuntu:22.04:LTS`` (``23.10`` ->
    ``Ubuntu:23.10``); ``alpine 3.20.3`` -> ``Alpine:v3.20``; ``rhel 9.4`` ->
    ``Red Hat:enterprise_linux:9``; ``rocky 9.3`` -> ``Rocky Linux:9``; ``almalinux 9.4`` ->
    ``AlmaLinux:9``; ``opensuse-leap 15.5`` -> ``openSUSE:Leap 15.5``; ``sles 15.5`` ->
    ``SUSE:Linux Enterprise Server 15 SP5``. Fedora has no OSV ecosystem: None.
    """
    os_id = release.id.lower()
    match = _MAJOR_MINOR.match(release.version_id or "")
    major = match.group(1) if match else ""
    minor = (match.group(2) or "") if match else ""
    if os_id == "debian":
        number = major or _DEBIAN_CODENAMES.get((release.version_codename or "").lower(), "")
        return f"Debian:{number}" if number else None
    if os_id == "ubuntu":
        if not (major and minor):
            return None
        lts = int(major) % 2 == 0 and minor == "04"
        return f"Ubuntu:{major}.{minor}" + (":LTS" if lts else "")
    if os_id == "alpine":
        return f"Alpine:v{major}.{minor}" if major and minor else None
    if not major and os_id != "opensuse-tumbleweed":
        return None
    return _rpm_ecosystem(os_id, release, major, minor)


def _rpm_ecosystem(os_id: str, release: OsRelease, major: str, minor: str) -> str | None:
    if os_id == "rhel":
        return f"Red Hat:enterprise_linux:{major}"
    if os_id == "rocky":
        return f"Rocky Linux:{major}"
    if os_id == "almalinux":
        return f"AlmaLinux:{major}"
    if os_id == "opensuse-leap":
        return f"openSUSE:Leap {major}.{minor or '0'}"
    if os_id == "opensuse-tumbleweed":
        return "openSUSE:Tumbleweed"
    if os_id in ("sles", "sled", "sle-micro"):
        pretty_name = release.pretty_name or ""
        if pretty_name.startswith("SUSE "):
            return "SUSE:" + pretty_name.removeprefix("SUSE ")
        service_pack = f" SP{minor}" if minor and minor != "0" else ""
        return f"SUSE:Linux Enterprise Server {major}{service_pack}"
    return None
