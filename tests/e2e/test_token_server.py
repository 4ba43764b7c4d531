"""Portside as the registry's token server, end to end: Debian's docker-registry configured with
the fragment `portside registry-config` prints, `portside serve` answering its clients' token
requests, skopeo as the client, and `portside sync` indexing everything with no registry
password configured (Portside signs its own tokens)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from portside.accounts import store
from portside.accounts.vocabulary import Role, Visibility
from portside.db.engine import Database
from portside.index import store as index_store
from tests.e2e.conftest import portside, portside_env
from tests.e2e.test_processes import start, stop, wait_http
from tests.support.net import free_port
from tests.support.oci import Layout, push
from tests.support.registry import running_registry

PASSWORD = "correct horse battery"
WEBHOOK = "hook-s3cret"


async def seed(url: str, registry_url: str) -> str:
    """ann owns team Platform (contributor rights), bob is its viewer, carol in no team;
    namespaces platform (private), shared (protected), open (public). ann's token."""
    now = datetime.now(UTC)
    async with Database(url) as db, db.write() as session:
        registry_id = await index_store.ensure_registry(session, registry_url, now)
        for name in ("ann", "bob", "carol"):
            await store.add_user(session, name, now, registry_id=registry_id, password=PASSWORD)
        await store.add_team(session, "Platform", "ann", now)
        await store.set_member(session, "Platform", "bob", Role.VIEWER, now)
        for name, visibility in (
            ("platform", Visibility.PRIVATE),
            ("shared", Visibility.PROTECTED),
            ("open", Visibility.PUBLIC),
        ):
            await store.add_namespace(
                session, name, "Platform", visibility, now, registry_id=registry_id
            )
        _, token = await store.add_token(session, "ann", "ci", now)
    return token


async def change(url: str, what: str) -> None:
    now = datetime.now(UTC)
    async with Database(url) as db, db.write() as session:
        if what == "revoke":
            await store.revoke_token(session, "ann", "ci", now)
        elif what == "disable":
            await store.set_enabled(session, "bob", False, now)


@dataclass
class Setup:
    workdir: Path
    env: dict[str, str]
    database_url: str
    registry: str  # host:port
    layout: Path
    token: str

    def push(self, repository: str, creds: str | None) -> bool:
        try:
            push(self.layout, "1.0", self.registry, repository, creds=creds)
        except subprocess.CalledProcessError:
            return False
        return True

    def pull(self, repository: str, creds: str | None) -> bool:
        """skopeo inspect (manifest and config: a pull's reads); credentials always explicit
        (--creds or --no-creds), so none of skopeo's own auth files is read."""
        cmd = ["skopeo", "inspect", "--tls-verify=false"]
        cmd += ["--creds", creds] if creds else ["--no-creds"]
        cmd += [f"docker://{self.registry}/{repository}:1.0"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return result.returncode == 0


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
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
    token = asyncio.run(seed(database_url, registry_url))
    printed = portside(
        "registry-config", "--url", f"http://127.0.0.1:{port}", env=env, cwd=tmp_path
    )
    assert printed.returncode == 0, printed.stderr
    fragment = yaml.safe_load(printed.stdout)
    auth = fragment["auth"]["token"]
    assert auth["realm"] == f"http://127.0.0.1:{port}/v2/token"
    assert auth["service"] == f"127.0.0.1:{registry_port}"
    assert auth["issuer"] == "portside"
    assert Path(auth["rootcertbundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    layout = Layout(tmp_path / "layout")
    image, _ = layout.image({"hello": b"world"})
    layout.tag(image, "1.0")
    with running_registry(tmp_path / "registry", port=registry_port, extra=fragment):
        server = start("serve", env=env, cwd=tmp_path)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz")
            yield Setup(
                tmp_path, env, database_url, f"127.0.0.1:{registry_port}", layout.path, token
            )
        finally:
            assert stop(server) == 0
    for log in tmp_path.glob("serve-*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def test_the_registry_asks_portside_who_may_push_and_pull(setup: Setup) -> None:
    ann, bob, carol = (f"{name}:{PASSWORD}" for name in ("ann", "bob", "carol"))
    # A contributor (here the team's owner) pushes into her team's namespaces.
    for namespace in ("platform", "shared", "open"):
        assert setup.push(f"{namespace}/app", ann), namespace
    # A viewer's push is refused by the registry; so is anyone's into an unknown namespace.
    assert not setup.push("platform/other", bob)
    assert not setup.push("nobody/app", ann)
    assert not setup.push("open/app", None)
    # Public: anyone, anonymously. Protected: any login. Private: the team only.
    assert setup.pull("open/app", None)
    assert not setup.pull("shared/app", None)
    assert setup.pull("shared/app", carol)
    assert not setup.pull("platform/app", carol)
    assert not setup.pull("platform/app", None)
    assert setup.pull("platform/app", bob)
    # Wrong password: refused, not anonymous.
    assert not setup.pull("open/app", "carol:wrong password")
    # A personal token is a password, until it is revoked.
    assert setup.push("platform/tool", f"ann:{setup.token}")
    asyncio.run(change(setup.database_url, "revoke"))
    assert not setup.pull("platform/tool", f"ann:{setup.token}")
    # A disabled user is refused at the next token request.
    asyncio.run(change(setup.database_url, "disable"))
    assert not setup.pull("platform/app", bob)

    # Portside's own sync: no registry password, its own signed tokens, the catalog and all.
    synced = portside("sync", env=setup.env, cwd=setup.workdir)
    assert synced.returncode == 0, synced.stderr
    assert "refused Portside's own token" not in synced.stderr
    exported = portside("export", env=setup.env, cwd=setup.workdir)
    names = {r["name"] for r in json.loads(exported.stdout)["repositories"]}
    assert names == {"platform/app", "platform/tool", "shared/app", "open/app"}


def test_registry_config_without_auth(tmp_path: Path) -> None:
    env = portside_env(
        PORTSIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}",
        PORTSIDE_NOTIFICATIONS__TOKENS=json.dumps([WEBHOOK]),
    )
    # No registry.url nor auth.token.service: the service is unknown; said, and left out.
    unknown = portside("registry-config", "--url", "http://p:8080", env=env, cwd=tmp_path)
    assert unknown.returncode == 0, unknown.stderr
    assert "auth" not in yaml.safe_load(unknown.stdout)
    assert "auth.token.service" in unknown.stderr
    env["PORTSIDE_REGISTRY__URL"] = "http://registry.example:5000"
    # --no-auth: the notifications only, and no database is needed for it.
    plain = portside(
        "registry-config", "--no-auth", "--url", "http://p:8080", env=env, cwd=tmp_path
    )
    assert plain.returncode == 0, plain.stderr
    assert list(yaml.safe_load(plain.stdout)) == ["notifications"]
    assert plain.stderr == ""
    # With auth, the key is kept in the database: it must be migrated first.
    before = portside("registry-config", "--url", "http://p:8080", env=env, cwd=tmp_path)
    assert before.returncode == 1 and "portside db upgrade" in before.stderr
    assert portside("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    cert = tmp_path / "certs" / "portside.crt"
    printed = portside(
        "registry-config", "--url", "http://p:8080", "--cert-file", str(cert), env=env, cwd=tmp_path
    )
    assert printed.returncode == 0, printed.stderr
    auth = yaml.safe_load(printed.stdout)["auth"]["token"]
    assert auth == {
        "realm": "http://p:8080/v2/token",
        "service": "registry.example:5000",
        "issuer": "portside",
        "rootcertbundle": str(cert),
    }
    # The same key every time: the certificate does not change.
    first = cert.read_text()
    again = portside(
        "registry-config", "--url", "http://p:8080", "--cert-file", str(cert), env=env, cwd=tmp_path
    )
    assert again.returncode == 0 and cert.read_text() == first
