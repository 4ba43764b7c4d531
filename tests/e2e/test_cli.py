"""The command line as a user runs it."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import PORTSIDE, osv_folder, portside, portside_env, push_scan_image
from tests.support.net import free_port


def test_a_wrong_setting_stops_with_one_line_naming_it(workdir: Path) -> None:
    env = portside_env(PORTSIDE_BACKGROUND__SYNC__STRATEGY="sometimes")
    result = portside("export", env=env, cwd=workdir)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "background.sync.strategy" in lines[0]
    config = workdir / "portside.yml"
    config.write_text("server:\n  port: many\n")
    result = portside("--config", str(config), "export", env=portside_env(), cwd=workdir)
    assert result.returncode == 2
    assert "server.port" in result.stderr


def test_db_upgrade_then_export_an_empty_index(workdir: Path) -> None:
    env = portside_env(PORTSIDE_DATABASE_URL=f"sqlite:///{workdir / 'p.db'}")
    result = portside("db", "current", env=env, cwd=workdir)
    assert result.returncode == 1
    assert "database: empty" in result.stdout
    assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
    assert portside("db", "current", env=env, cwd=workdir).returncode == 0
    result = portside("export", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"repositories": []}
    result = portside("events", "retry", "--all", env=env, cwd=workdir)
    assert result.stdout.strip() == "0 events queued again"


def test_background_waits_for_the_schema_with_a_clear_message(workdir: Path) -> None:
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{workdir / 'new.db'}",
        PORTSIDE_REGISTRY__URL="http://127.0.0.1:9",
        PORTSIDE_BACKGROUND__SCHEMA_WAIT="0.5",
    )
    result = portside("background", "--one-shot", env=env, cwd=workdir)
    assert result.returncode == 1
    assert "portside db upgrade" in result.stderr


@pytest.mark.parametrize("command", ["serve", "background"])
def test_sigterm_stops_a_process_waiting_for_the_schema(workdir: Path, command: str) -> None:
    """`serve` used to wait out background.schema_wait (uvicorn's start-up ignores signals)."""
    database = workdir / "new.db"
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{database}",
        PORTSIDE_REGISTRY__URL="http://127.0.0.1:9",
        PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]',
        PORTSIDE_SERVER__PORT=str(free_port()),
        PORTSIDE_BACKGROUND__SCHEMA_WAIT="120",
    )
    process = subprocess.Popen(
        [PORTSIDE, command], env=env, cwd=workdir, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not database.exists():  # opened: the process is waiting for the schema
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the database was never opened"
            time.sleep(0.05)
        time.sleep(0.3)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert time.monotonic() - signalled < 3
    assert process.returncode == 0, stderr
    assert "stopped by a signal while waiting for the database schema" in stderr


def test_serve_refuses_to_start_without_a_webhook_token(workdir: Path) -> None:
    result = portside("serve", env=portside_env(), cwd=workdir)
    assert result.returncode == 2
    assert "notifications.tokens" in result.stderr


def test_an_old_setting_name_works_and_is_logged_once_as_deprecated(workdir: Path) -> None:
    env = portside_env(PORTSIDE_WEBHOOK__TOKENS='["s3cret"]')
    result = portside("registry-config", "--url", "http://p:8080", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Bearer s3cret" in result.stdout
    assert result.stderr.count("webhook.* is deprecated: use notifications.*") == 1


def test_registry_config_prints_the_notifications_snippet(workdir: Path) -> None:
    env = portside_env(PORTSIDE_NOTIFICATIONS__TOKENS='["s3cret"]')
    result = portside(
        "registry-config", "--url", "http://portside.internal:8080", env=env, cwd=workdir
    )
    assert result.returncode == 0
    endpoint = yaml.safe_load(result.stdout)["notifications"]["endpoints"][0]
    assert endpoint["url"] == "http://portside.internal:8080/v2/webhooks/events"
    assert endpoint["headers"]["Authorization"] == ["Bearer s3cret"]


def test_sync_dry_run_then_sync(workdir: Path) -> None:
    import asyncio

    from tests.support.populate import Pusher, make_image
    from tests.support.registry import running_registry

    with running_registry(workdir / "registry") as registry:

        async def fill() -> None:
            async with Pusher(registry.url) as pusher:
                await pusher.push("ns/app", "1.0", make_image("a"))
                await pusher.push("other", "2.0", make_image("b"))

        asyncio.run(fill())
        env = portside_env(
            PORTSIDE_DATABASE_URL=f"sqlite:///{workdir / 'p.db'}",
            PORTSIDE_REGISTRY__URL=registry.url,
        )
        assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
        dry = portside("sync", "--dry-run", env=env, cwd=workdir)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[0].startswith("+ ns/app:1.0 sha256:")
        assert "dry run: nothing applied" in dry.stderr
        assert json.loads(portside("export", env=env, cwd=workdir).stdout) == {"repositories": []}
        real = portside("sync", env=env, cwd=workdir)
        assert real.returncode == 0, real.stderr
        exported = json.loads(portside("export", env=env, cwd=workdir).stdout)
        assert [r["name"] for r in exported["repositories"]] == ["ns/app", "other"]


def test_scan_and_vulndb_commands(workdir: Path) -> None:
    from tests.support.registry import running_registry

    with running_registry(workdir / "registry") as registry:
        digest = push_scan_image(workdir, registry.url)
        env = portside_env(
            PORTSIDE_DATABASE_URL=f"sqlite:///{workdir / 'p.db'}",
            PORTSIDE_REGISTRY__URL=registry.url,
        )
        assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
        empty = portside("vulndb", "status", env=env, cwd=workdir)
        assert empty.returncode == 1  # nothing yet, and it says what to do
        assert "no advisories are loaded" in empty.stderr and "vulndb import" in empty.stderr
        missing = portside("scan", "ns/app:nope", env=env, cwd=workdir)
        assert missing.returncode == 3
        assert "tag nope not found in ns/app" in missing.stderr
        osv = osv_folder(workdir, "DSA-5514-1", "GHSA-c2qf-rxjj-qqgw")
        (osv / "broken.json").write_text("{not json")
        imported = portside("vulndb", "import", str(osv), env=env, cwd=workdir)
        assert imported.returncode == 0, imported.stderr
        assert "imported 2 records" in imported.stderr
        assert "broken.json" in imported.stderr
        status = portside("vulndb", "status", env=env, cwd=workdir)
        assert status.returncode == 0
        assert "advisories: 2" in status.stdout

        as_json = portside("scan", "ns/app:1.0", "--format", "json", env=env, cwd=workdir)
        assert as_json.returncode == 0, as_json.stderr
        report = json.loads(as_json.stdout)
        assert report["digest"] == digest
        assert {v["id"] for v in report["vulnerabilities"]} == {"DSA-5514-1", "GHSA-c2qf-rxjj-qqgw"}

        bom = json.loads(
            portside(
                "scan", f"ns/app@{digest}", "--format", "cyclonedx", env=env, cwd=workdir
            ).stdout
        )
        assert bom["bomFormat"] == "CycloneDX"
        assert float(bom["specVersion"]) >= 1.5
        purls = {c["purl"] for c in bom["components"]}
        assert any(p.startswith("pkg:deb/debian/libc6@") for p in purls)
        dsa = next(v for v in bom["vulnerabilities"] if v["id"] == "DSA-5514-1")
        assert {"id": "CVE-2023-4911", "source": {"name": "NVD"}} in dsa["references"]
        assert dsa["ratings"][0]["severity"] in (
            "critical",
            "high",
            "medium",
            "low",
            "info",
            "unknown",
        )
        assert dsa["affects"][0]["ref"] in {c["bom-ref"] for c in bom["components"]}

        table = portside("scan", "ns/app:1.0", env=env, cwd=workdir)
        assert table.returncode == 0
        assert "DSA-5514-1" in table.stdout


def test_db_upgrade_of_a_missing_database_says_how_to_create_it(workdir: Path) -> None:
    """Against the real PostgreSQL: one line, the cause and the command, no traceback."""
    name = "portside_missing_" + workdir.name.replace("-", "_").lower()[-20:]
    cases = {
        f"postgresql://postgres@127.0.0.1:5432/{name}": f"createdb -h 127.0.0.1 -p 5432 -U postgres {name}",
        "postgresql://portside_no_such_role@127.0.0.1:5432/postgres": "refused the login",
        f"sqlite:///{workdir / 'no' / 'such' / 'folder' / 'p.db'}": "does not exist",
    }
    for url, expected in cases.items():
        result = portside("db", "upgrade", env=portside_env(PORTSIDE_DATABASE_URL=url), cwd=workdir)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert expected in lines[0]
        assert "Traceback" not in result.stderr


def test_delete_of_a_junk_name_goes_to_the_index_only(workdir: Path) -> None:
    """A junk row from before names were checked (`evil/../team/app`, which a resolved URL
    turns into team/app) is deleted from the index only; the real team/app stays."""
    import asyncio

    from portside.db.engine import Database
    from portside.registry.client import RegistryClient
    from portside.settings import RegistrySettings
    from tests.integration.test_names_registry import add_junk
    from tests.support.populate import Pusher, make_image
    from tests.support.registry import running_registry

    database_url = f"sqlite:///{workdir / 'p.db'}"
    with running_registry(workdir / "registry") as registry:

        async def fill() -> str:
            async with Pusher(registry.url) as pusher:
                return await pusher.push("team/app", "1.0", make_image("a"))

        digest = asyncio.run(fill())
        env = portside_env(PORTSIDE_DATABASE_URL=database_url, PORTSIDE_REGISTRY__URL=registry.url)
        assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
        assert portside("sync", env=env, cwd=workdir).returncode == 0

        async def junk() -> None:
            async with Database(database_url) as db:
                await add_junk(db, registry.url, digest)

        asyncio.run(junk())
        result = portside("delete", "evil/../team/app:1.0", env=env, cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert "deleted evil/../team/app:1.0" in result.stdout
        assert "removed from the index only" in result.stderr
        assert "not a valid repository name" in result.stderr
        refused = portside("delete", "--repository", "Evil/%2e%2e/x", env=env, cwd=workdir)
        assert refused.returncode == 1
        assert "not a valid repository name" in refused.stderr

        async def tags() -> list[str]:
            async with RegistryClient(RegistrySettings(url=registry.url)) as client:
                return await client.tags("team/app")

        assert asyncio.run(tags()) == ["1.0"]
    exported = json.loads(portside("export", env=env, cwd=workdir).stdout)
    assert [r["name"] for r in exported["repositories"]] == ["team/app"]
