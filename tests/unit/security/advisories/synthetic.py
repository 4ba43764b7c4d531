"""Synthetic OSV records and package lists, shaped like osv.dev's, for scale checks and benchmarks.

Deterministic (seeded). Package popularity is skewed the way real data is: a few source packages
(the kernel, glibc, openssl...) carry most advisories.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from portside.security.advisories.ecosystems import family
from portside.security.advisories.match import Placed
from portside.security.packages import Package

# (ecosystem, share of advisories, number of package names)
ECOSYSTEMS = (
    ("Debian:12", 0.40, 3000),
    ("Ubuntu:22.04:LTS", 0.30, 3000),
    ("Alpine:v3.20", 0.05, 800),
    ("PyPI", 0.15, 3000),
    ("npm", 0.10, 3000),
)


def _name(ecosystem: str, index: int) -> str:
    return f"{ecosystem.split(':')[0].lower()}-pkg{index}"


def _version(ecosystem: str, rng: random.Random, major: int, minor: int) -> str:
    family = ecosystem.split(":")[0]
    patch = rng.randint(0, 20)
    if family == "Debian":
        return f"{major}.{minor}.{patch}-{rng.randint(1, 4)}+deb12u{rng.randint(1, 5)}"
    if family == "Ubuntu":
        return f"{major}.{minor}.{patch}-{rng.randint(1, 4)}ubuntu0.{rng.randint(1, 5)}"
    if family == "Alpine":
        return f"{major}.{minor}.{patch}-r{rng.randint(0, 5)}"
    return f"{major}.{minor}.{patch}"


def _pick_name(rng: random.Random, count: int) -> int:
    # Skewed: index 0 (think "linux") gets ~7% of picks out of 3000, the tail very few.
    return min(int(count * rng.random() ** 3), count - 1)


def records(total: int, seed: int = 1, *, dense: bool = True) -> Iterator[dict[str, object]]:
    """``total`` OSV records as JSON-shaped dicts.

    ``dense``: fixes fall anywhere among the installed versions and 30% are unfixed, so most
    advisories of a package affect an installed version (a worst case: ~20 findings per package).
    Otherwise most fixes predate the installed versions, as in real distribution data.
    """
    rng = random.Random(seed)
    weights = [share for _, share, _ in ECOSYSTEMS]
    unfixed, old_fix = (0.3, 0.0) if dense else (0.05, 0.9)
    for number in range(total):
        ecosystem, _, names = rng.choices(ECOSYSTEMS, weights)[0]
        name_index = _pick_name(rng, names)
        major, minor = name_index % 7 + 1, rng.randint(0, 9)
        if rng.random() < old_fix:
            major -= 1
        events: list[dict[str, str]] = [{"introduced": "0"}]
        if rng.random() < 0.3:
            events = [{"introduced": _version(ecosystem, rng, major, max(minor - 2, 0))}]
        if rng.random() >= unfixed:
            events.append({"fixed": _version(ecosystem, rng, major, minor)})
        affected: dict[str, object] = {
            "package": {"ecosystem": ecosystem, "name": _name(ecosystem, name_index)},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
        }
        if ecosystem.startswith(("Debian", "Ubuntu")):
            affected["versions"] = [_version(ecosystem, rng, major, minor) for _ in range(3)]
        yield {
            "id": f"SYN-{number}",
            "modified": "2024-01-01T00:00:00Z",
            "aliases": [f"CVE-2024-{number}"],
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
            ],
            "affected": [affected],
        }


def package_lists(count: int, seed: int = 2) -> Iterator[list[Placed]]:
    """``count`` images' package lists: an OS base (Debian, Ubuntu or Alpine) and often
    language packages. Images share bases, so many (package, version) pairs repeat."""
    rng = random.Random(seed)
    bases = {
        "Debian:12": [_base(rng, "Debian:12", 150) for _ in range(20)],
        "Ubuntu:22.04:LTS": [_base(rng, "Ubuntu:22.04:LTS", 120) for _ in range(10)],
        "Alpine:v3.20": [_base(rng, "Alpine:v3.20", 30) for _ in range(10)],
    }
    for _ in range(count):
        os_ecosystem = rng.choices(list(bases), [0.6, 0.2, 0.2])[0]
        packages = list(rng.choice(bases[os_ecosystem]))
        if rng.random() < 0.3:
            packages += _base(rng, "PyPI", 60)
        if rng.random() < 0.3:
            packages += _base(rng, "npm", 400)
        yield packages


def _base(rng: random.Random, ecosystem: str, size: int) -> list[Placed]:
    names = next(count for name, _, count in ECOSYSTEMS if name == ecosystem)
    chosen = {_pick_name(rng, names) for _ in range(size)}
    packages = []
    for index in sorted(chosen):
        version = _version(ecosystem, rng, index % 7 + 1, rng.randint(0, 9))
        name = _name(ecosystem, index)
        if ecosystem.startswith(("Debian", "Ubuntu", "Alpine")):
            packages.append(placed(ecosystem, f"{name}-bin", version, name, version))
        else:
            packages.append(placed(ecosystem, name, version))
    return packages


_KINDS = {"Debian": "deb", "Ubuntu": "deb", "Alpine": "apk", "PyPI": "pypi", "npm": "npm"}


def placed(
    ecosystem: str,
    name: str,
    version: str,
    source_name: str | None = None,
    source_version: str | None = None,
) -> Placed:
    """A package as the matcher gets it: placed in the OSV ``ecosystem``."""
    kind = _KINDS.get(family(ecosystem), "rpm")
    package = Package(name, version, kind, source_name=source_name, source_version=source_version)
    return Placed(ecosystem, package)
