"""Python distributions: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `*.egg-info` files."""

from __future__ import annotations

from collections.abc import Mapping
from email.parser import Parser
from email.policy import compat32

from portside.security.analysis.files import MergedFile
from portside.security.analysis.purl import purl, pypi_name
from portside.security.packages import OsRelease, Package


def wants(path: str) -> bool:
    return (
        path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO"))
        # distutils wrote the metadata as a single file named like the directory
        or path.endswith(".egg-info")
    )


def catalog(files: Mapping[str, MergedFile], os_release: OsRelease | None) -> list[Package]:
    packages = []
    for path in sorted(files):
        if wants(path) and (package := read_metadata(path, files[path])) is not None:
            packages.append(package)
    return packages


def read_metadata(path: str, file: MergedFile) -> Package | None:
    """The distribution a core metadata file describes; ``None`` without Name and Version."""
    text = file.content.decode("utf-8", "replace")
    headers = Parser(policy=compat32).parsestr(text, headersonly=True)
    raw_name, version = headers.get("Name"), headers.get("Version")
    if not isinstance(raw_name, str) or not isinstance(version, str):
        return None
    name, version = pypi_name(raw_name.strip()), version.strip()
    if not name or not version:
        return None
    return Package(
        name=name,
        version=version,
        ecosystem="pypi",
        purl=purl("pypi", None, name, version),
        layer_digest=file.layer_digest,
        path=path,
    )
