"""Vulnerability data that keeps itself current, end to end: `portside serve` and
`portside background` as processes, a real registry, an image with vulnerable PyPI packages,
and a real HTTP server on loopback serving an OSV archive built at test time from the real
records in ../shared/realosv/osv. The background task fetches it and findings appear with no
manual step; the archive changes and the verdict changes with it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import portside, portside_env
from tests.e2e.test_processes import start, stop, until, wait_http
from tests.integration.test_scanning import SITE, metadata
from tests.support.archive_server import archive_server, build_zip, real_record
from tests.support.net import free_port
from tests.support.oci import Layout, push
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry

# requests 2.2.0: PYSEC-2014-13 and PYSEC-2014-14 (fixed in 2.3.0); Jinja2 2.7.1:
# PYSEC-2014-8 (fixed in 2.7.2). Real records, read from ../shared/realosv/osv.
REQUESTS = ("PYSEC-2014-13", "PYSEC-2014-14")
JINJA = ("PYSEC-2014-8",)
LAYER = {
    f"{SITE}/requests-2.2.0.dist-info/METADATA": metadata("requests", "2.2.0"),
    f"{SITE}/Jinja2-2.7.1.dist-info/METADATA": metadata("Jinja2", "2.7.1"),
}


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_sources_fetch_import_and_change_the_verdict(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_registry(tmp_path / "registry") as registry, archive_server() as archives:
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image([LAYER])
        layout.tag(image, "1.0")
        push(layout.path, "1.0", registry.url, "ns/pyapp")
        source = f"{archives.url}/PyPI/all.zip"  # nothing served yet: a 404
        env = portside_env(
            PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
            PORTSIDE_REGISTRY__URL=registry.url,
            PORTSIDE_SERVER__PORT=str(port),
            PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
            PORTSIDE_DATA_DIR=str(tmp_path / "data"),
            PORTSIDE_BACKGROUND__SYNC__INTERVAL="1",
            PORTSIDE_BACKGROUND__SCAN__INTERVAL="1",
            PORTSIDE_VULNDB__ENABLED="true",
            PORTSIDE_VULNDB__SOURCES=json.dumps([source]),
            PORTSIDE_VULNDB__INTERVAL="1",
            PORTSIDE_VULNDB__BACKOFF_BASE="1",
        )
        assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
        server = start("serve", env=env, cwd=tmp_path)
        worker = start("background", env=env, cwd=tmp_path)
        try:
            wait_http(f"{base}/healthz")

            def tag_id() -> int | None:
                repositories = get(f"{base}/api/v1/repositories")["items"]
                if not repositories:
                    return None
                tags = get(f"{base}/api/v1/repositories/{repositories[0]['id']}/tags")["items"]
                return tags[0]["id"] if tags else None

            tag = until(tag_id)

            def verdict(expected: str) -> Any:
                found = get(f"{base}/api/v1/tags/{tag}/vulnerabilities")
                verdict = found.get("verdict") or {}
                return found if verdict.get("label") == expected else None

            # Scanned, but no advisories loaded (the source answers 404): not a pass.
            first = until(lambda: verdict("Incomplete"), timeout=60)
            assert first["verdict"]["gaps"] == ["no advisories loaded for PyPI"]
            status = get(f"{base}/api/v1/status")["vulndb"]
            assert "HTTP 404" in status["sources"][0]["last_error"]

            # The archive appears: fetched, imported, matched, with no manual step.
            archives.put("/PyPI/all.zip", build_zip(real_record(i) for i in REQUESTS + JINJA))
            found = until(lambda: verdict("Unknown"), timeout=60)  # PYSEC records: no severity
            assert sorted(v["id"] for v in found["vulnerabilities"]) == sorted(REQUESTS + JINJA)
            assert found["verdict"]["complete"] is True

            # The archive changes: the records of these packages leave it; the verdict follows.
            archives.put("/PyPI/all.zip", build_zip(real_record(i) for i in ("PYSEC-2018-49",)))
            passed = until(lambda: verdict("Passed"), timeout=60)
            assert passed["vulnerabilities"] == []
            assert passed["verdict"]["summary"] == "no known vulnerabilities"
            assert archives.gets("/PyPI/all.zip")[-1].get("if-none-match")  # conditional
        finally:
            assert stop(worker) == 0
            stop(server)


def test_vulndb_update_now_from_a_file_source(tmp_path: Path) -> None:
    """`portside vulndb update`: every source fetched now (a mirror on disk, file://), exit 0;
    a source that fails makes it exit 1 and says why; the others are still imported."""
    from tests.support.archive_server import write_archive

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    archive = write_archive(mirror / "all.zip", [real_record(i) for i in REQUESTS + JINJA])
    missing = (mirror / "npm.zip").as_uri()
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
        PORTSIDE_DATA_DIR=str(tmp_path / "data"),
        PORTSIDE_VULNDB__SOURCES=json.dumps([archive.as_uri()]),
    )
    assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    done = portside("vulndb", "update", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (
        f"{archive.as_uri()}: 3 records (3 new or changed, 0 withdrawn, 0 refused)" in done.stderr
    )
    again = portside("vulndb", "update", env=env, cwd=tmp_path)
    assert again.returncode == 0 and "not modified (3 records)" in again.stderr

    env["PORTSIDE_VULNDB__SOURCES"] = json.dumps([archive.as_uri(), missing])
    failed = portside("vulndb", "update", env=env, cwd=tmp_path)
    assert failed.returncode == 1
    assert f"{missing}: failed:" in failed.stderr and "No such file" in failed.stderr
    status = portside("vulndb", "status", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "PyPI" in status.stdout and "fresh" in status.stdout
