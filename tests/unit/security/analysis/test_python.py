"""Python distributions: real METADATA and PKG-INFO files of this machine."""

from __future__ import annotations

from portside.security.analysis.catalogers import python
from portside.security.analysis.files import MergedFile
from tests.unit.security.analysis.layerkit import DATA

SITE = "usr/local/lib/python3.11/site-packages"
SAMPLES = DATA / "python"


def sample(name: str) -> MergedFile:
    return MergedFile((SAMPLES / name).read_bytes(), "sha256:p")


def test_real_metadata_files() -> None:
    files = {
        f"{SITE}/pyyaml-6.0.4.dist-info/METADATA": sample("pyyaml-6.0.4.METADATA"),
        f"{SITE}/pydantic_core-2.50.5.dist-info/METADATA": sample("pydantic_core-2.50.5.METADATA"),
        f"{SITE}/typing_extensions-4.16.0.dist-info/METADATA": sample(
            "typing_extensions-4.16.0.METADATA"
        ),
        "usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO": sample(
            "PyJWT-2.6.0.PKG-INFO"
        ),
        "usr/lib/python2.7/wsgiref.egg-info": sample("wsgiref-0.1.2.egg-info"),
        f"{SITE}/pyyaml-6.0.4.dist-info/RECORD": MergedFile(b"yaml/__init__.py,,\n", "x"),
    }
    found = sorted(python.catalog(files, None), key=lambda p: p.name)
    assert [(p.name, p.version, p.purl, p.ecosystem) for p in found] == [
        ("pydantic-core", "2.50.5", "pkg:pypi/pydantic-core@2.50.5", "pypi"),
        ("pyjwt", "2.6.0", "pkg:pypi/pyjwt@2.6.0", "pypi"),
        ("pyyaml", "6.0.4", "pkg:pypi/pyyaml@6.0.4", "pypi"),
        ("typing-extensions", "4.16.0", "pkg:pypi/typing-extensions@4.16.0", "pypi"),
        ("wsgiref", "0.1.2", "pkg:pypi/wsgiref@0.1.2", "pypi"),
    ]
    assert found[0].path == f"{SITE}/pydantic_core-2.50.5.dist-info/METADATA"
    assert found[0].layer_digest == "sha256:p"
    assert found[0].source_name is None


def test_which_paths_python_reads() -> None:
    assert python.wants("app/.venv/lib/python3.12/site-packages/x-1.dist-info/METADATA")
    assert python.wants("usr/lib/python3/dist-packages/x-1.egg-info/PKG-INFO")
    assert python.wants("usr/lib/python3/dist-packages/x-1.egg-info")
    assert not python.wants("usr/lib/python3/dist-packages/x-1.dist-info/RECORD")
    assert not python.wants("usr/lib/python3/dist-packages/x-1.dist-info/METADATA.bak")


def test_metadata_without_name_or_version_and_odd_bytes() -> None:
    files = {
        "a.dist-info/METADATA": MergedFile(b"Metadata-Version: 2.1\nName: only-name\n", "l"),
        "b.dist-info/METADATA": MergedFile(b"\xff\xfe\x00garbage", "l"),
        "c.dist-info/METADATA": MergedFile(
            b"Name:  Foo.Bar_baz \nVersion:  1.0rc1 \n\nName: body\n", "l"
        ),
        "d.dist-info/METADATA": MergedFile(b"Name: \nVersion: 1\n", "l"),
    }
    found = python.catalog(files, None)
    assert [(p.name, p.version) for p in found] == [("foo-bar-baz", "1.0rc1")]
