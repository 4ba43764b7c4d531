"""Moving from Portus, end to end: a Portus database on the machine's MariaDB, `portside
import-portus` into a fresh Portside, then Debian's docker-registry configured for Portside's
token server, and skopeo as the client: the imported users push and pull with the passwords
and application tokens they had in Portus, a Portus viewer still cannot push, and a private
namespace stays private."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import portside, portside_env
from tests.e2e.test_processes import start, stop, wait_http
from tests.e2e.test_token_server import WEBHOOK, Setup
from tests.support.net import free_port
from tests.support.oci import Layout
from tests.support.portus_db import PASSWORDS, Example, fill_example, portus_database
from tests.support.registry import running_registry

pytestmark = pytest.mark.mariadb


@pytest.fixture
def moved(tmp_path: Path) -> Iterator[tuple[Setup, Example]]:
    port, registry_port = free_port(), free_port()
    registry_url = f"http://127.0.0.1:{registry_port}"
    database_url = f"sqlite:///{tmp_path / 'portside.db'}"
    env = portside_env(
        PORTSIDE_DATABASE_URL=database_url,
        PORTSIDE_REGISTRY__URL=registry_url,
        PORTSIDE_SERVER__PORT=str(port),
        PORTSIDE_NOTIFICATIONS__TOKENS=json.dumps([WEBHOOK]),
    )
    assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    with portus_database() as portus:
        example = fill_example(portus)
        imported = portside("import-portus", portus.dsn, env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr + imported.stdout
    printed = portside(
        "registry-config", "--url", f"http://127.0.0.1:{port}", env=env, cwd=tmp_path
    )
    assert printed.returncode == 0, printed.stderr
    fragment = yaml.safe_load(printed.stdout)
    layout = Layout(tmp_path / "layout")
    image, _ = layout.image({"hello": b"portus"})
    layout.tag(image, "1.0")
    with running_registry(tmp_path / "registry", port=registry_port, extra=fragment):
        server = start("serve", env=env, cwd=tmp_path)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            yield (
                Setup(tmp_path, env, database_url, f"127.0.0.1:{registry_port}", layout.path, ""),
                example,
            )
        finally:
            assert stop(server) == 0
    for log in tmp_path.glob("serve-*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_portus_users_keep_their_passwords_tokens_and_rights(
    moved: tuple[Setup, Example],
) -> None:
    setup, example = moved
    ann, bob, carol = (f"{name}:{PASSWORDS[name]}" for name in ("ann", "bob", "carol"))
    # ann, Platform's owner in Portus, pushes with her Portus password...
    assert setup.push("platform/app", ann)
    assert setup.push("open/app", ann)
    # ... and with the application token Portus gave her (no pst_ prefix).
    assert setup.push("platform/tool", f"ann:{example.tokens['ann']}")
    assert not setup.push("platform/tool", "ann:not-her-token")
    # A bot, a contributor in Portus, pushes with its token only.
    assert setup.push("platform/bot", f"robot:{example.tokens['robot']}")
    # bob was Platform's viewer in Portus: he pulls, he does not push.
    assert setup.pull("platform/app", bob)
    assert not setup.push("platform/other", bob)
    # platform stays private: not for carol (in no team), nor anonymously; open is public.
    assert not setup.pull("platform/app", carol)
    assert not setup.pull("platform/app", None)
    assert setup.pull("open/app", None)
    # dave was disabled in Portus.
    assert not setup.pull("open/app", f"dave:{PASSWORDS['dave']}")
    # Her password was upgraded to argon2id at her first login; it still works.
    assert setup.pull("platform/app", ann)
