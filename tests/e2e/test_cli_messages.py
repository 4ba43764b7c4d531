"""The command line says what went wrong and what to do, in words a user can act on."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import portside, portside_env
from tests.support.registry import running_registry


def migrated(workdir: Path) -> tuple[dict[str, str], Path]:
    path = workdir / "p.db"
    env = portside_env(PORTSIDE_DATABASE_URL=f"sqlite:///{path}")
    assert portside("db", "upgrade", env=env, cwd=workdir).returncode == 0
    return env, path


def add_event(path: Path, row_id: int, status: str) -> None:
    """A stored event in a given state (written with sqlite3: the state is what matters)."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO registry_events (id, event_id, action, repository, tag, digest,"
            " occurred_at, received_at, data, status, attempts, available_at, error)"
            " VALUES (?, ?, 'push', 'ns/app', '1.0', ?, '2026-11-30 00:00:00.000000',"
            " '2026-11-30 00:00:00.000000', ?, ?, 1, '2026-11-30 00:00:00.000000', 'boom')",
            (row_id, f"e{row_id}", "sha256:" + "a" * 64, json.dumps({}), status),
        )


def test_version_flag(workdir: Path) -> None:
    result = portside("--version", env=portside_env(), cwd=workdir)
    assert result.returncode == 0 and result.stdout.strip() == "0.1.0"


def test_events_list_refuses_an_unknown_status(workdir: Path) -> None:
    env, _ = migrated(workdir)
    result = portside("events", "list", "--status", "bogus", env=env, cwd=workdir)
    assert result.returncode == 2
    assert "fresh, progress, done, failed" in result.stderr


def test_events_retry_says_which_ids_it_could_not_retry(workdir: Path) -> None:
    env, path = migrated(workdir)
    add_event(path, 1, "failed")
    add_event(path, 2, "done")
    result = portside("events", "retry", "1", "2", "99", env=env, cwd=workdir)
    assert result.returncode == 1
    assert result.stdout.strip() == "1 event queued again"
    assert "event 2: done, not failed" in result.stderr
    assert "event 99: no such event" in result.stderr
    listed = portside("events", "list", env=env, cwd=workdir)
    assert "2 of 2 events" in listed.stdout


@pytest.mark.registry
def test_deleting_asks_first_names_its_flags_and_has_a_dry_run(workdir: Path) -> None:
    """The real registry: the demo image under two tags (one digest), then deletions."""
    with running_registry(workdir / "registry") as registry:
        env, _ = migrated(workdir)
        env["PORTSIDE_REGISTRY__URL"] = registry.url
        for tag in ("1.0", "1.1"):
            pushed = portside("demo", "--repository", "demo/x", "--tag", tag, env=env, cwd=workdir)
            assert pushed.returncode == 0, pushed.stderr
        assert portside("sync", env=env, cwd=workdir).returncode == 0

        gc_env = {**env, "PORTSIDE_BACKGROUND__GC__KEEP_LATEST": "1"}
        gc = portside("gc", "--dry-run", env=gc_env, cwd=workdir)
        assert gc.returncode == 0, gc.stderr
        assert "rules: older_than 30 days; keep_latest 1 per repository" in gc.stderr
        lines = sorted(gc.stdout.splitlines())
        assert len(lines) == 2 and all(line.startswith("keeps demo/x:1.") for line in lines)
        assert any("keep_latest" in line for line in lines)
        assert "would delete 0 tags of 2" in gc.stderr

        asked = portside("delete", "--repository", "demo/x", env=env, cwd=workdir)
        assert asked.returncode == 2  # no terminal to ask on: nothing deleted
        assert "demo/x and its 2 tags" in asked.stderr and "--yes" in asked.stderr

        dry = portside("delete", "--repository", "demo/x", "--dry-run", env=env, cwd=workdir)
        assert dry.returncode == 0
        assert [line.split(" (")[0] for line in dry.stdout.splitlines()] == [
            "would delete demo/x:1.0",
            "would delete demo/x:1.1",
        ]
        refused = portside("delete", "demo/x:1.0", env=env, cwd=workdir)
        assert refused.returncode == 1
        assert (
            "--with-siblings" in refused.stderr
            and "with_siblings" not in refused.stderr.replace("--with-siblings", "")
        )
        dry_tag = portside("delete", "demo/x:1.0", "--dry-run", env=env, cwd=workdir)
        assert "refused without --with-siblings" in dry_tag.stderr

        gone = portside("delete", "--repository", "demo/x", "--yes", env=env, cwd=workdir)
        assert gone.returncode == 0, gone.stderr
        assert "repository demo/x removed" in gone.stdout


def test_flags_are_shown_without_a_value(workdir: Path) -> None:
    result = portside("delete", "--help", env=portside_env(), cwd=workdir)
    assert result.returncode == 0
    assert "--dry-run" in result.stdout and "<bool>" not in result.stdout
