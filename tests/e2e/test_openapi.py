"""The OpenAPI document against the running server (schemathesis): no 5xx for any input,
with and without the admin token, on a server started as `portside serve` would be, with a
real (empty) registry behind it."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import PORTSIDE, portside, portside_env
from tests.support.net import free_port
from tests.support.registry import running_registry

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


@pytest.mark.registry
@pytest.mark.timeout(600)  # schemathesis fuzzes every operation (about 60 now)
def test_no_input_makes_the_api_fail(tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as registry:
        fuzz(tmp_path, registry.url)


def fuzz(tmp_path: Path, registry_url: str) -> None:
    port = free_port()
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
        PORTSIDE_SERVER__PORT=str(port),
        PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
        PORTSIDE_API__ADMIN_TOKENS='["admin-token"]',
        # An empty registry: scans of whatever reference answer 404 or 422, never 5xx.
        PORTSIDE_REGISTRY__URL=registry_url,
    )
    assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [PORTSIDE, "serve"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        for headers in ([], ["-H", "Authorization: Bearer admin-token"]):
            result = subprocess.run(
                [
                    SCHEMATHESIS,
                    "run",
                    f"http://127.0.0.1:{port}/api/openapi.json",
                    "--checks",
                    "not_a_server_error",
                    "--max-examples",
                    "15",
                    "--generation-deterministic",
                    "--no-color",
                    *headers,
                ],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
