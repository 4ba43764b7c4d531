"""The embedded default (`portside run` with no registry.url) as a new user meets it: it never
indexes a registry it did not start, and the other commands run in the same folder find it."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import portside, portside_env
from tests.e2e.test_processes import start, stop, wait_http
from tests.support.net import free_port
from tests.support.oci import Layout, push
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry


def test_run_refuses_a_registry_port_another_registry_holds(tmp_path: Path) -> None:
    """A real second registry on the port: `portside run` stops with one line naming the
    setting, before indexing anything (it used to index the other registry)."""
    with running_registry(tmp_path / "other") as other:
        env = portside_env(
            PORTSIDE_SERVER__PORT=str(free_port()),
            PORTSIDE_REGISTRY__LOCAL_PORT=str(other.config.port),
        )
        result = portside("run", env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "registry.local_port" in lines[0] and "already in use" in lines[0]
    assert not (tmp_path / "portside.db").exists()  # nothing was started or migrated


def test_run_refuses_a_server_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env = portside_env(
            PORTSIDE_SERVER__PORT=str(holder.getsockname()[1]),
            PORTSIDE_REGISTRY__LOCAL_PORT=str(free_port()),
        )
        result = portside("run", env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "server.port" in lines[0] and "already in use" in lines[0]


def test_commands_in_the_same_folder_find_the_embedded_default(tmp_path: Path) -> None:
    port, registry_port = free_port(), free_port()
    env = portside_env(
        PORTSIDE_SERVER__PORT=str(port), PORTSIDE_REGISTRY__LOCAL_PORT=str(registry_port)
    )
    # Before `portside run`: a clear word on what is missing.
    before = portside("sync", env=env, cwd=tmp_path)
    assert before.returncode == 2
    assert "portside run" in before.stderr and "registry.url" in before.stderr
    process: subprocess.Popen[str] = start("run", env=env, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image({"hello": b"world"})
        layout.tag(image, "1.0")
        push(layout.path, "1.0", f"127.0.0.1:{registry_port}", "demo/hello")
        result = portside("sync", "--dry-run", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert f"using the embedded registry http://127.0.0.1:{registry_port}" in result.stderr
        config = portside("registry-config", env=env, cwd=tmp_path)
        assert config.returncode == 0, config.stderr
        token = (tmp_path / ".portside" / "webhook-token").read_text().strip()
        assert token and f"Bearer {token}" in config.stdout
        assert "webhook-token" in config.stderr  # says where the token came from
    finally:
        assert stop(process) == 0
    state = tmp_path / ".portside" / "embedded.json"
    assert state.stat().st_mode & 0o777 == 0o600
