"""A registry behind a private CA: Debian's docker-registry serving HTTPS with a certificate
from a CA the test creates, reached with `registry.ca_file`; and the settings' checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from portside import demo
from portside.db.engine import Database
from portside.db.models import Tag
from portside.errors import ConfigError, RegistryUnavailable
from portside.registry.client import RegistryClient
from portside.settings import RegistrySettings, load_settings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.support.certs import make_pki
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry


async def test_a_registry_behind_a_private_ca(tmp_path: Path, db: Database) -> None:
    pki = make_pki(tmp_path / "pki")
    with running_registry(tmp_path / "registry", tls=(pki.cert, pki.key)) as registry:
        assert registry.url.startswith("https://127.0.0.1:")
        # Without the CA: the system's CAs do not know it, and the error says so.
        async with RegistryClient(RegistrySettings(url=registry.url)) as client:
            with pytest.raises(RegistryUnavailable, match="certificate verify failed"):
                await client.ping()
        # With it: a push (the demo image) and a whole sync over HTTPS.
        settings = RegistrySettings(url=registry.url, ca_file=pki.ca)
        async with RegistryClient(settings) as client:
            digest = await demo.push(client, "team/app", "1.0")
            report = await SyncRun(db, client, SyncOptions()).run()
    assert report.summary.added == 1
    async with db.read() as session:
        assert await session.scalar(select(Tag.digest).where(Tag.name == "1.0")) == digest


def test_tls_files_are_checked_at_start(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    other = make_pki(tmp_path / "other")
    settings = load_settings(None, server={"tls": {"cert": pki.cert, "key": pki.key}})
    assert settings.server.tls is not None
    cases = {
        "server.tls.cert": {"server": {"tls": {"cert": tmp_path / "nope.pem", "key": pki.key}}},
        "server.tls": {"server": {"tls": {"cert": pki.cert, "key": other.key}}},  # not a pair
        "registry.ca_file": {"registry": {"ca_file": tmp_path / "missing.pem"}},
    }
    for key, values in cases.items():
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_settings(None, **values)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ConfigError, match="registry.ca_file"):
        load_settings(None, registry={"ca_file": garbage})
