"""Portside's processes as an operator runs them: `portside run` on its embedded default,
`portside serve` + several `portside background` on PostgreSQL, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import PORTSIDE, osv_folder, portside, portside_env, push_scan_image
from tests.support import databases
from tests.support.net import free_port
from tests.support.oci import Layout, push
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def start(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    with (cwd / f"{args[0]}-{time.monotonic_ns()}.log").open("w") as log:
        return subprocess.Popen(
            [PORTSIDE, *args], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True
        )


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def export(env: dict[str, str], cwd: Path) -> dict[str, dict[str, str]]:
    result = portside("export", env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return {
        r["name"]: {t["name"]: t["digest"] for t in r["tags"]}
        for r in json.loads(result.stdout)["repositories"]
    }


def until(probe, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not reached within {timeout}s; last: {value!r}")


def test_run_on_the_embedded_default(tmp_path: Path) -> None:
    """What the README promises: `portside run`, push an image, see it in export and the API."""
    port, registry_port = free_port(), free_port()
    env = portside_env(
        PORTSIDE_SERVER__PORT=str(port), PORTSIDE_REGISTRY__LOCAL_PORT=str(registry_port)
    )
    process = start("run", env=env, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image({"hello": b"world"})
        layout.tag(image, "1.0")
        digest = push(layout.path, "1.0", f"127.0.0.1:{registry_port}", "demo/hello")
        found = until(lambda: export(env, tmp_path).get("demo/hello"), timeout=15)
        assert found == {"1.0": digest}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/repositories") as resp:
            page = json.load(resp)
        assert [r["name"] for r in page["items"]] == ["demo/hello"]
    finally:
        assert stop(process) == 0
    assert (tmp_path / "portside.db").exists()
    # The local registry went away with it.
    with pytest.raises(OSError, match="refused"):
        urllib.request.urlopen(f"http://127.0.0.1:{registry_port}/v2/", timeout=1)


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = databases.pg_template()  # a fresh, migrated database
    try:
        yield databases.PG_URL.format(name=name)
    finally:
        databases.pg_drop_sync(name)


@pytest.mark.postgres
def test_several_background_processes_share_the_work_on_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    port = free_port()
    with running_registry(
        tmp_path / "registry", notify_url=f"http://127.0.0.1:{port}", notify_token="s3cret"
    ) as registry:
        env = portside_env(
            PORTSIDE_DATABASE_URL=pg_url,
            PORTSIDE_SERVER__PORT=str(port),
            PORTSIDE_REGISTRY__URL=registry.url,
            PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
            PORTSIDE_BACKGROUND__EVENTS__INTERVAL="0.2",
            PORTSIDE_BACKGROUND__EVENTS__BATCH_SIZE="3",
        )
        server = start("serve", env=env, cwd=tmp_path)
        workers = [start("background", env=env, cwd=tmp_path) for _ in range(3)]
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            layout = Layout(tmp_path / "layout")
            expected = {}
            for n in range(12):
                image, _ = layout.image({"n": str(n).encode()})
                layout.tag(image, "1.0")
                expected[f"ns/app{n % 4}-{n}"] = push(
                    layout.path, "1.0", registry.url, f"ns/app{n % 4}-{n}"
                )
            found = until(lambda: (lambda e: e if len(e) == 12 else None)(export(env, tmp_path)))
            assert {name: tags["1.0"] for name, tags in found.items()} == expected
        finally:
            codes = [stop(w) for w in workers]
            stop(server)
        assert codes == [0, 0, 0]  # SIGTERM stops cleanly
        logs = "".join(path.read_text() for path in tmp_path.glob("background-*.log"))
        assert '"level": "error"' not in logs  # no worker tripped over another
        result = portside("events", "list", "--status", "failed", env=env, cwd=tmp_path)
        assert "0 of 0" in result.stdout


def test_scan_asks_a_running_portside(tmp_path: Path) -> None:
    """`portside scan --server`: the image is analyzed by `portside serve`, with its database."""
    port = free_port()
    with running_registry(tmp_path / "registry") as registry:
        digest = push_scan_image(tmp_path, registry.url)
        env = portside_env(
            PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'server.db'}",
            PORTSIDE_SERVER__PORT=str(port),
            PORTSIDE_REGISTRY__URL=registry.url,
            PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
            PORTSIDE_API__ADMIN_TOKENS='["admin-s3cret"]',
        )
        assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
        osv = osv_folder(tmp_path, "DSA-5514-1")
        assert portside("vulndb", "import", str(osv), env=env, cwd=tmp_path).returncode == 0
        server = start("serve", env=env, cwd=tmp_path)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            # The client has neither the database nor the registry: only the server's address.
            client = portside_env(PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'none.db'}")
            url = f"http://127.0.0.1:{port}"
            scan = ("scan", "ns/app:1.0", "--server", url)
            result = portside(
                *scan, "--token", "admin-s3cret", "--format", "json", env=client, cwd=tmp_path
            )
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            assert (report["digest"], report["source"]) == (digest, "scanned")
            assert [v["id"] for v in report["vulnerabilities"]] == ["DSA-5514-1"]
            refused = portside(*scan, env=client, cwd=tmp_path)
            assert refused.returncode == 3  # the scan could not be done (1: a failed gate)
            assert "401" in refused.stderr and "--token" in refused.stderr
            by_env = portside_env(PORTSIDE_API_URL=url, PORTSIDE_API_TOKEN="admin-s3cret")
            table = portside("scan", "ns/app:1.0", env=by_env, cwd=tmp_path)
            assert table.returncode == 0, table.stderr
            assert "DSA-5514-1" in table.stdout
            # The gate decides on the server's report as on its own (DSA-5514-1: Unknown).
            gated = portside("scan", "ns/app:1.0", "--fail-on", "unknown", env=by_env, cwd=tmp_path)
            assert gated.returncode == 1, gated.stderr
            assert gated.stderr == "gate: 1 finding at or above Unknown (1 Unknown)\n"
            passed = portside("scan", "ns/app:1.0", "--fail-on", "LOW", env=by_env, cwd=tmp_path)
            assert passed.returncode == 0, passed.stderr
            bom = portside("scan", "ns/app:1.0", "--format", "cyclonedx", env=by_env, cwd=tmp_path)
            assert json.loads(bom.stdout)["bomFormat"] == "CycloneDX"
        finally:
            assert stop(server) == 0
    assert not (tmp_path / "none.db").exists()  # the client never opened a database
