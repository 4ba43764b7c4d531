"""npm packages: ``package.json`` of each package directory under a ``node_modules``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from portside.security.analysis.files import MergedFile
from portside.security.analysis.purl import purl
from portside.security.packages import OsRelease, Package


def wants(path: str) -> bool:
    """``.../node_modules/<name>/package.json`` or ``.../node_modules/@scope/<name>/...``.

    Other package.json files inside a package (tests, fixtures, sub-folders) are not packages.
    """
    if not path.endswith("/package.json"):
        return False
    parts = path.split("/")
    if len(parts) >= 3 and parts[-3] == "node_modules":
        return not parts[-2].startswith("@")
    return len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@")


def catalog(files: Mapping[str, MergedFile], os_release: OsRelease | None) -> list[Package]:
    packages = []
    for path in sorted(files):
        if wants(path) and (package := read_package_json(path, files[path])) is not None:
            packages.append(package)
    return packages


def read_package_json(path: str, file: MergedFile) -> Package | None:
    """The package a package.json describes; ``None`` unless it has a name and a version."""
    try:
        manifest = json.loads(file.content)
    except (ValueError, RecursionError):
        return None
    if not isinstance(manifest, dict):
        return None
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    scope, _, bare = name.rpartition("/")
    return Package(
        name=name,
        version=version,
        ecosystem="npm",
        purl=purl("npm", scope or None, bare, version),
        layer_digest=file.layer_digest,
        path=path,
    )
