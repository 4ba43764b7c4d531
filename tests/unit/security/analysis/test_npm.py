"""npm packages: real package.json files of npm's own node_modules."""

from __future__ import annotations

import json

from portside.security.analysis.catalogers import npm
from portside.security.analysis.files import MergedFile
from tests.unit.security.analysis.layerkit import DATA

ROOT = "usr/lib/node_modules"
SAMPLES = DATA / "npm"


def sample(name: str) -> MergedFile:
    return MergedFile((SAMPLES / f"{name}.package.json").read_bytes(), "sha256:n")


def test_real_package_json_files() -> None:
    files = {
        f"{ROOT}/npm/package.json": sample("npm"),
        f"{ROOT}/npm/node_modules/glob/package.json": sample("glob"),
        f"{ROOT}/npm/node_modules/glob/dist/esm/package.json": sample("glob-dist-esm"),
        f"{ROOT}/npm/node_modules/@npmcli/arborist/package.json": sample("npmcli-arborist"),
        f"{ROOT}/npm/node_modules/util-deprecate/package.json": sample("util-deprecate"),
    }
    found = sorted(npm.catalog(files, None), key=lambda p: p.path)
    versions = {
        name: json.loads((SAMPLES / f"{file}.package.json").read_text())["version"]
        for name, file in [
            ("npm", "npm"),
            ("glob", "glob"),
            ("@npmcli/arborist", "npmcli-arborist"),
        ]
    }
    assert [(p.name, p.purl) for p in found] == [
        ("@npmcli/arborist", f"pkg:npm/%40npmcli/arborist@{versions['@npmcli/arborist']}"),
        ("glob", f"pkg:npm/glob@{versions['glob']}"),
        ("util-deprecate", "pkg:npm/util-deprecate@1.0.2"),
        ("npm", f"pkg:npm/npm@{versions['npm']}"),
    ]
    assert {(p.ecosystem, p.layer_digest) for p in found} == {("npm", "sha256:n")}


def test_which_paths_npm_reads() -> None:
    assert npm.wants("app/node_modules/left-pad/package.json")
    assert npm.wants("app/node_modules/@scope/name/package.json")
    assert npm.wants("app/node_modules/a/node_modules/b/package.json")
    assert not npm.wants("app/package.json")  # the application itself, not a dependency
    assert not npm.wants("app/node_modules/@scope/package.json")
    assert not npm.wants("app/node_modules/a/lib/package.json")
    assert not npm.wants("app/node_modules/a/package.json.bak")


def test_package_json_without_name_and_version_or_not_json() -> None:
    files = {
        f"n/node_modules/{name}/package.json": MergedFile(content, "l")
        for name, content in [
            ("a", b'{"name": "a"}'),
            ("b", b'{"version": "1.0.0"}'),
            ("c", b"not json"),
            ("d", b"[1, 2]"),
            ("e", b'{"name": 1, "version": "1"}'),
            ("f", b"[" * 100_000 + b"]" * 100_000),  # deep nesting: no RecursionError escapes
            ("g", b'{"name": "g", "version": "2.0.0"}'),
        ]
    }
    assert [(p.name, p.version) for p in npm.catalog(files, None)] == [("g", "2.0.0")]
