"""`portside scan --fail-on SEVERITY [--ignore-unfixed]` as a CI job runs it: images pushed to
the real registry, the real GitHub advisories of their npm packages (../shared/realosv/osv),
the exit codes and the verdict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.e2e.conftest import portside, portside_env
from tests.integration.test_scanning import DATA, package_json
from tests.support.oci import Layout, push
from tests.support.realosv import real_records

NODE = "app/node_modules"
# ip 2.0.1: GHSA-2p57-rm9w-gvfp, High, no fixed version; debug 2.6.8: GHSA-gxpj-cx7g-858c,
# Low, fixed in 2.6.9; minimist 1.2.5 (the second image only): GHSA-xvch-5gv4-984h, Critical,
# fixed in 1.2.6.
BASE = {
    f"{NODE}/ip/package.json": package_json("ip", "2.0.1"),
    f"{NODE}/debug/package.json": package_json("debug", "2.6.8"),
}
CRITICAL = {f"{NODE}/minimist/package.json": package_json("minimist", "1.2.5")}


def push_images(folder: Path, registry_url: str) -> None:
    """ns/app:ok (a High without a fix, a Low with one) and ns/app:bad (and a Critical)."""
    layout = Layout(folder / "layout")
    for tag, layers in (("ok", [BASE]), ("bad", [BASE, CRITICAL])):
        image, _ = layout.image(layers)
        layout.tag(image, tag)
        push(layout.path, tag, registry_url, "ns/app")


def advisories(folder: Path) -> Path:
    osv = folder / "osv"
    osv.mkdir()
    for record in real_records("GHSA-gxpj-cx7g-858c", "GHSA-xvch-5gv4-984h"):
        shutil.copy(record, osv)
    shutil.copy(DATA / "osv" / "GHSA-2p57-rm9w-gvfp.json", osv)  # real, kept in tests/data
    return osv


def test_the_gate_exit_codes(workdir: Path) -> None:
    from tests.support.registry import running_registry

    with running_registry(workdir / "registry") as registry:
        push_images(workdir, registry.url)
        env = portside_env(
            PORTSIDE_DATABASE_URL=f"sqlite:///{workdir / 'p.db'}",
            PORTSIDE_REGISTRY__URL=registry.url,
        )
        assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
        imported = portside("vulndb", "import", str(advisories(workdir)), env=env, cwd=workdir)
        assert imported.returncode == 0, imported.stderr

        def scan(ref: str, *options: str) -> tuple[int, str]:
            result = portside("scan", ref, *options, env=env, cwd=workdir)
            return result.returncode, result.stderr.strip()

        assert scan("ns/app:ok") == (0, "")  # no gate asked: findings do not fail
        assert scan("ns/app:ok", "--fail-on", "critical") == (
            0,
            "gate: passed, no findings at or above Critical",
        )
        assert scan("ns/app:bad", "--fail-on", "CRITICAL") == (
            1,
            "gate: 1 finding at or above Critical (1 Critical)",
        )
        assert scan("ns/app:ok", "--fail-on", "high") == (
            1,
            "gate: 1 finding at or above High (1 High)",
        )
        # ip's High has no fixed version: left out, the gate passes.
        assert scan("ns/app:ok", "--fail-on", "high", "--ignore-unfixed") == (
            0,
            "gate: passed, no findings at or above High; 1 without a fix left out",
        )
        assert scan("ns/app:ok", "--fail-on", "low") == (
            1,
            "gate: 2 findings at or above Low (1 High, 1 Low)",
        )
        assert scan("ns/app:bad", "--fail-on", "Low", "--ignore-unfixed")[0] == 1

        as_json = portside(
            "scan", "ns/app:bad", "--format", "json", "--fail-on", "high", "--ignore-unfixed",
            env=env, cwd=workdir,
        )  # fmt: skip
        assert as_json.returncode == 1 and as_json.stderr == ""
        report = json.loads(as_json.stdout)
        assert {v["id"] for v in report["vulnerabilities"]} == {
            "GHSA-gxpj-cx7g-858c",
            "GHSA-xvch-5gv4-984h",
        }
        assert report["gate"] == {
            "fail_on": "High",
            "ignore_unfixed": True,
            "passed": False,
            "failing": 1,
            "failing_counts": {"Critical": 1},
            "unfixed_left_out": 1,
            "allowed": 0,
        }

        # An exception in force for minimist's advisory (by its CVE alias, any case) in
        # namespace ns: the gate leaves it out and says so; removed, it counts again.
        added = portside(
            "allow", "add", "cve-2021-44906", "--namespace", "ns", "--reason", "test only",
            env=env, cwd=workdir,
        )  # fmt: skip
        assert added.returncode == 1 and "no namespace 'ns'" in added.stderr  # none made yet
        added = portside(
            "allow", "add", "cve-2021-44906", "--reason", "test only", "--expires", "1",
            env=env, cwd=workdir,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert scan("ns/app:bad", "--fail-on", "CRITICAL") == (
            0,
            "gate: passed, no findings at or above Critical; 1 allowed by exceptions",
        )
        removed = portside("allow", "remove", added.stdout.strip(), env=env, cwd=workdir)
        assert removed.returncode == 0, removed.stderr
        assert scan("ns/app:bad", "--fail-on", "CRITICAL")[0] == 1

        # Errors never read as a failed gate.
        wrong = portside(
            "scan", "ns/app:ok", "--fail-on", "severe", env={**env, "COLUMNS": "300"}, cwd=workdir
        )
        assert wrong.returncode == 2
        assert "one of Defcon1, Critical, High, Medium, Low, Unknown, Negligible" in wrong.stderr
        assert scan("NS/App:ok", "--fail-on", "low")[0] == 2  # not a repository name
        code, message = scan("ns/app:missing", "--fail-on", "low")
        assert code == 3, message
