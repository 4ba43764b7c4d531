"""Portside's registry client signing its own tokens, against the real registry: a registry
that trusts Portside's kept key (RS256 and ES256, found by its libtrust key id) takes them
without the token realm ever being asked; one that trusts another issuer refuses them, and the
client says so once and goes on with the realm's anonymous tokens."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from portside import demo
from portside.db.engine import Database
from portside.registry.client import RegistryClient
from portside.settings import SigningAlgorithm, load_settings
from portside.tokenserver.keys import TokenKeys
from portside.tokenserver.own import SelfSigned
from tests.support.net import free_port
from tests.support.registry import running_registry
from tests.support.tokenauth import TokenIssuer

pytestmark = pytest.mark.registry


@pytest.mark.parametrize("algorithm", list(SigningAlgorithm))
async def test_a_registry_trusting_portside_takes_its_own_tokens(
    tmp_path: Path, db: Database, database_url: str, algorithm: SigningAlgorithm
) -> None:
    settings = load_settings(
        None, database_url=database_url, auth={"token": {"algorithm": algorithm.value}}
    )
    keys = TokenKeys(db, settings.auth.token)
    bundle = tmp_path / "portside.crt"
    bundle.write_text((await keys.get()).certificate_pem)
    nowhere = f"http://127.0.0.1:{free_port()}/v2/token"  # nothing listens: never asked
    auth = {"realm": nowhere, "service": "the-registry", "issuer": "portside"}
    with running_registry(
        tmp_path / "r", token_auth={**auth, "rootcertbundle": str(bundle)}
    ) as registry:
        registry_settings = settings.registry.model_copy(update={"url": registry.url})
        async with RegistryClient(
            registry_settings, token_source=SelfSigned(keys, settings)
        ) as client:
            digest = await demo.push(client, "team/app", "1.0")
            assert [n async for page in client.catalog(10) for n in page] == ["team/app"]
            assert await client.tags("team/app") == ["1.0"]
            assert (await client.get_manifest("team/app", "1.0")).digest == digest
            await client.delete_manifest("team/app", digest)
            assert client.stats.token_requests == 0
        # Without the token source the realm is asked (and, here, is not there).
        async with RegistryClient(registry_settings) as client:
            with pytest.raises(Exception, match="token realm"):
                await client.ping()


async def test_a_refused_own_token_falls_back_to_the_realm(
    tmp_path: Path, db: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    issuer = TokenIssuer(tmp_path, {}, anonymous=True)
    await issuer.start(free_port())
    settings = load_settings(None, database_url=database_url)
    try:
        with running_registry(tmp_path / "r", token_auth=issuer.registry_auth()) as registry:
            registry_settings = settings.registry.model_copy(update={"url": registry.url})
            source = SelfSigned(TokenKeys(db, settings.auth.token), settings)
            with caplog.at_level(logging.WARNING, logger="portside.registry.client"):
                async with RegistryClient(registry_settings, token_source=source) as client:
                    await demo.push(client, "team/app", "1.0")
                    assert [n async for page in client.catalog(10) for n in page] == ["team/app"]
                    assert client.stats.token_requests >= 1  # the realm's, from then on
        refusals = [r for r in caplog.records if "refused Portside's own token" in r.message]
        assert len(refusals) == 1
    finally:
        await issuer.stop()
