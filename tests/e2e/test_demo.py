"""`portside demo`: the sample image is a real OCI image the real registry accepts, Portside
indexes and scans, and the real PyPA advisories (../shared/realosv/osv) find its vulnerable
Python libraries in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import portside, portside_env
from tests.support.realosv import real_records
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry

# requests 2.28.1: PYSEC-2023-74 (fixed 2.31.0); urllib3 1.26.12: PYSEC-2023-192 (fixed
# 1.26.17) and PYSEC-2023-212 (fixed 1.26.18); PYSEC-2021-108 was fixed in urllib3 1.26.5,
# before the demo's version, so it must not match.
AFFECTING = {"PYSEC-2023-74", "PYSEC-2023-192", "PYSEC-2023-212"}
NOT_AFFECTING = {"PYSEC-2021-108"}


def test_demo_pushes_an_image_that_is_indexed_and_scanned(workdir: Path) -> None:
    osv = workdir / "osv"
    osv.mkdir()
    for record in real_records(*AFFECTING, *NOT_AFFECTING):
        (osv / record.name).symlink_to(record)  # read from shared/, never copied
    with running_registry(workdir / "registry") as registry:
        env = portside_env(
            PORTSIDE_DATABASE_URL=f"sqlite:///{workdir / 'p.db'}",
            PORTSIDE_REGISTRY__URL=registry.url,
        )
        assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
        pushed = portside("demo", env=env, cwd=workdir)
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.startswith("pushed demo/bookworm-python:1.0 (sha256:")
        again = portside("demo", env=env, cwd=workdir)  # blobs already there: same digest
        assert again.stdout == pushed.stdout
        assert portside("sync", env=env, cwd=workdir).returncode == 0
        exported = json.loads(portside("export", env=env, cwd=workdir).stdout)
        (repo,) = exported["repositories"]
        assert repo["name"] == "demo/bookworm-python"
        assert [t["name"] for t in repo["tags"]] == ["1.0"]
        imported = portside("vulndb", "import", str(osv), env=env, cwd=workdir)
        assert imported.returncode == 0, imported.stderr
        scanned = portside(
            "scan", "demo/bookworm-python:1.0", "--format", "json", env=env, cwd=workdir
        )
        assert scanned.returncode == 0, scanned.stderr
    report = json.loads(scanned.stdout)
    assert report["os"]["id"] == "debian" and report["os"]["version_id"] == "12"
    names = {p["name"] for p in report["packages"]}
    assert {"libc6", "openssl", "zlib1g", "requests", "urllib3", "jinja2"} <= names
    assert {v["id"] for v in report["vulnerabilities"]} == AFFECTING


def test_demo_refuses_a_bad_repository_name(workdir: Path) -> None:
    env = portside_env(PORTSIDE_REGISTRY__URL="http://127.0.0.1:9")
    result = portside("demo", "--repository", "Evil/../x", env=env, cwd=workdir)
    assert result.returncode == 2
    assert "not a valid repository name" in result.stderr
