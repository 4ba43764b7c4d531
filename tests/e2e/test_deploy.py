"""The deployment files in deploy/: what the tests run and what they only check.

- systemd units: `systemd-analyze verify` on the units, pointed at this run's `portside`.
- Prometheus rules: `promtool check rules` (Debian's prometheus package).
- The compose file and the Dockerfile are not run (no container engine on the test machines):
  their structure is checked, every command they give Portside is one `portside` accepts,
  every file the Dockerfile copies exists, and the registry's notification settings the compose
  file passes through the environment are given to Debian's real docker-registry, which must
  then notify a listener with the token.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import PORTSIDE, portside, portside_env
from tests.support.net import eventually, free_port
from tests.support.oci import Layout, push

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_the_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze (Debian's systemd) is needed"
    units = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        text = unit.read_text().replace("/opt/portside/bin/portside", PORTSIDE)
        assert "ExecStart=" in text
        copy = tmp_path / unit.name
        copy.write_text(text)
        units.append(str(copy))
    assert len(units) == 2
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    # Lines about the host's own units (none here are ours) are not this test's business.
    ours = [line for line in result.stderr.splitlines() if "portside" in line]
    assert result.returncode == 0 and not ours, result.stderr


def test_the_alerting_rules_check_with_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian's prometheus package) is needed"
    rules = DEPLOY / "prometheus" / "portside.rules.yml"
    result = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every metric a rule names is one Portside exports (or Prometheus's own `up`).
    exported = set(
        re.findall(r'"(portside_[a-z_]+)"', (ROOT / "src/portside/metrics.py").read_text())
    )
    named = set(re.findall(r"\b(portside_[a-z_]+)\b", rules.read_text()))
    suffixes = ("_total", "_count", "_sum", "_bucket")
    for metric in named:
        base = next((metric.removesuffix(s) for s in suffixes if metric.endswith(s)), metric)
        assert base in exported, f"{metric} is not exported by Portside"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())  # type: ignore[no-any-return]


def test_the_compose_file_runs_portside_commands_that_exist(tmp_path: Path) -> None:
    services = compose()["services"]
    assert {"postgres", "registry", "migrate", "portside", "background"} <= set(services)
    commands = {name: s["command"] for name, s in services.items() if "build" in s}
    assert commands == {
        "migrate": ["db", "upgrade"],
        "portside": ["serve"],
        "background": ["background"],
    }
    for command in commands.values():
        result = portside(*command, "--help", env=portside_env(), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    build = services["portside"]["build"]
    dockerfile = (DEPLOY / "compose" / build["context"] / build["dockerfile"]).resolve()
    assert dockerfile == DEPLOY / "Dockerfile"
    # The settings it passes are ones Portside accepts (with the token filled in).
    env = {
        k: v.replace("${PORTSIDE_WEBHOOK_TOKEN:?set PORTSIDE_WEBHOOK_TOKEN}", "t0ken")
        for k, v in services["portside"]["environment"].items()
    }
    env["PORTSIDE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'p.db'}"
    result = portside("db", "upgrade", env=portside_env(**env), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_every_file_the_dockerfile_copies_exists() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE)
    assert copies
    for line in copies:
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the tree"
    assert 'ENTRYPOINT ["portside"]' in text


class _Listener(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append((self.headers.get("Authorization", ""), json.loads(body)))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.registry
async def test_the_compose_registry_notification_settings_work_on_the_real_registry(
    tmp_path: Path,
) -> None:
    """The registry service's REGISTRY_NOTIFICATIONS_ENDPOINTS, as compose passes it, given
    to Debian's docker-registry (distribution 2.8): a push notifies with the token."""
    listener = ThreadingHTTPServer(("127.0.0.1", 0), _Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    _Listener.received = []
    registry_env = compose()["services"]["registry"]["environment"]
    endpoints = (
        registry_env["REGISTRY_NOTIFICATIONS_ENDPOINTS"]
        .replace("${PORTSIDE_WEBHOOK_TOKEN}", "t0ken")
        .replace("http://portside:8080", f"http://127.0.0.1:{listener.server_port}")
    )
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    env = {
        **os.environ,
        "REGISTRY_NOTIFICATIONS_ENDPOINTS": endpoints,
        "REGISTRY_STORAGE_DELETE_ENABLED": registry_env["REGISTRY_STORAGE_DELETE_ENABLED"],
    }
    with (tmp_path / "registry.log").open("wb") as log:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)], env=env, stdout=log, stderr=log
        )
    try:
        url = f"http://127.0.0.1:{port}"
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image({"hello": b"world"})
        layout.tag(image, "1.0")
        await eventually(lambda: _alive(url), timeout=20)
        digest = push(layout.path, "1.0", url, "team/app")

        async def notified() -> bool:
            return any(
                auth == "Bearer t0ken"
                and any(e["target"].get("digest") == digest for e in body["events"])
                for auth, body in _Listener.received
            )

        await eventually(notified, timeout=20)
    finally:
        process.terminate()
        process.wait(timeout=10)
        listener.shutdown()
        listener.server_close()


async def _alive(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/v2/", timeout=1):
            return True
    except OSError:
        return False
