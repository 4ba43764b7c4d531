"""Portside as a package: the wheel built from this tree, installed into a clean virtual
environment (not the project's .venv), migrates a database and serves its pages and API.

The wheel's dependencies come from the package index through uv, as `uv tool install` or
`pipx install` would fetch them (uv's cache makes repeated runs quick).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def uv() -> str:
    """The uv that `make install` put into .tools, else one on PATH."""
    found = ROOT / ".tools" / "bin" / "uv"
    if found.exists():
        return str(found)
    on_path = shutil.which("uv")
    assert on_path, "uv not found: run `make install` first"
    return on_path


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this test run's virtual environment or Portside settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PORTSIDE_", "VIRTUAL_ENV", "PYTHONPATH", "UV_"))
    }
    env.update(extra)
    return env


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [uv(), "build", "--wheel", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        env=clean_env(),
        timeout=120,
    )
    (wheel,) = out.glob("portside-*.whl")
    return wheel


def test_the_wheel_installs_into_a_clean_environment_and_runs(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    # What the package needs at run time besides its modules.
    assert "portside/ui/templates/base.html" in names
    assert "portside/ui/static/portside.css" in names
    assert any(n.startswith("portside/db/migrations/versions/") for n in names)
    assert not any(n.startswith("tests/") for n in names)

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    subprocess.run(
        [uv(), "pip", "install", "--python", str(python), str(wheel)],
        check=True,
        capture_output=True,
        env=clean_env(),
        timeout=240,
    )
    command = target / "bin" / "portside"
    # Nothing of the test run's environment: a working directory of its own.
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    env = clean_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{work / 'portside.db'}",
        PORTSIDE_SERVER__PORT=str(port),
        PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
    )

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], env=env, cwd=work, capture_output=True, text=True, timeout=120
        )

    version = run(command, "version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "0.1.0"
    # The installed package is the one imported, not this checkout's source.
    where = run(python, "-c", "import portside; print(portside.__file__)")
    assert where.stdout.startswith(str(target)), where.stdout

    upgrade = run(command, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr

    with (work / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [str(command), "serve"], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert server.poll() is None, (work / "serve.log").read_text()
                assert time.monotonic() < deadline, "portside serve did not answer"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/", timeout=5) as resp:
            assert b"Portside" in resp.read()  # the templates came with the wheel
        with urllib.request.urlopen(f"{base}/api/v1/repositories", timeout=5) as resp:
            assert resp.status == 200
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise
    assert code == 0, (work / "serve.log").read_text()
