"""The OpenAPI document against the running server (schemathesis): no 5xx for any input,
with and without the admin token, on a server started as `portside serve` would be."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import PORTSIDE, portside, portside_env
from tests.support.net import free_port

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def test_no_input_makes_the_api_fail(tmp_path: Path) -> None:
    port = free_port()
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
        PORTSIDE_SERVER__PORT=str(port),
        PORTSIDE_WEBHOOK__TOKENS='["s3cret"]',
        PORTSIDE_API__ADMIN_TOKENS='["admin-token"]',
        # The registry is not running: deletes must answer 4xx/502, never 500.
        PORTSIDE_REGISTRY__URL=f"http://127.0.0.1:{free_port()}",
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
