"""`portside serve` with `server.tls`: HTTPS with the operator's certificate."""

from __future__ import annotations

import ssl
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import portside, portside_env
from tests.e2e.test_processes import start, stop
from tests.support.certs import make_pki
from tests.support.net import free_port


def test_serve_answers_https_with_the_configured_certificate(workdir: Path) -> None:
    pki = make_pki(workdir / "pki")
    port = free_port()
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{workdir / 'p.db'}",
        PORTSIDE_SERVER__PORT=str(port),
        PORTSIDE_SERVER__TLS__CERT=str(pki.cert),
        PORTSIDE_SERVER__TLS__KEY=str(pki.key),
        PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
    )
    assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
    server = start("serve", env=env, cwd=workdir)
    trusted = ssl.create_default_context(cafile=str(pki.ca))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"https://127.0.0.1:{port}/healthz", timeout=2, context=trusted
                ) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "portside serve did not answer over HTTPS"
                time.sleep(0.2)
        config = portside("registry-config", env=env, cwd=workdir)
        assert f"https://127.0.0.1:{port}/v2/webhooks/events" in config.stdout
    finally:
        assert stop(server) == 0
