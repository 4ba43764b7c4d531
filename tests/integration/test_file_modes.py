"""Every file Portside writes that holds a secret is created 0600 whatever the umask: the
SQLite database (and its -wal/-shm), the embedded registry's config.yml (the webhook token),
its log, and `portside run`'s generated webhook token."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from portside.cli import _embedded
from portside.db import migrate
from portside.db.engine import Database
from portside.settings import load_settings
from tests.support.registry import running_registry


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The widest umask: modes then come from the code alone."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
async def test_a_new_sqlite_database_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "portside.db"
    async with Database(f"sqlite:///{path}") as db:
        await migrate.upgrade(db)
        async with db.read() as session:
            await session.execute(text("SELECT 1"))
        files = sorted(tmp_path.iterdir())
        assert {f.name for f in files} >= {"portside.db", "portside.db-wal", "portside.db-shm"}
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}


@pytest.mark.usefixtures("open_umask")
def test_the_embedded_defaults_token_file_is_0600_and_never_blank(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=str(tmp_path / "data"))
    embedded, _ = _embedded(settings)
    token_file = tmp_path / "data" / "webhook-token"
    assert mode(token_file) == 0o600
    assert mode(tmp_path / "data") == 0o700
    token = token_file.read_text()
    assert len(token) >= 32
    assert [t.get_secret_value() for t in embedded.notifications.tokens] == [token]
    assert _embedded(settings)[0].notifications.tokens[0].get_secret_value() == token  # kept
    token_file.chmod(0o644)
    assert _embedded(settings)[0].notifications.tokens[0].get_secret_value() == token
    assert mode(token_file) == 0o600  # an existing token file is made owner-only too
    token_file.write_text(" \n")  # emptied by hand: a blank token would match a blank header
    renewed = _embedded(settings)[0].notifications.tokens[0].get_secret_value()
    assert renewed.strip()
    assert renewed == token_file.read_text()


@pytest.mark.registry
@pytest.mark.usefixtures("open_umask")
def test_the_embedded_registrys_config_is_0600(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    with running_registry(root, notify_url="http://127.0.0.1:9", notify_token="tok3n") as reg:
        config_file = root / "config.yml"
        assert mode(config_file) == 0o600
        assert mode(root / "registry.log") == 0o600
        assert "tok3n" in config_file.read_text()
        secret = yaml.safe_load(config_file.read_text())["http"]["secret"]
        assert secret != "portside-local-registry"  # not a value anyone can read here
        assert len(secret) >= 32
        assert reg.process is not None
