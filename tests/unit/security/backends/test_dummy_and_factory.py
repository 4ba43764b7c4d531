"""The dummy backend (deterministic, no network) and building backends from the settings."""

from __future__ import annotations

import socket

import pytest

from portside.registry.client import RegistryClient
from portside.security.scanning.backends.clair import ClairScanner
from portside.security.scanning.backends.dummy import DummyScanner, fake_findings
from portside.security.scanning.backends.factory import external_backends
from portside.security.scanning.backends.harbor import HarborAdapterScanner
from portside.security.severity import ORDER
from portside.settings import RegistrySettings, ScanTaskSettings

DIGESTS = [f"sha256:{n:064x}" for n in range(50)]


async def test_the_dummy_scanner_is_deterministic_and_offline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dummy scanner opened a socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    scanner = DummyScanner()
    for digest in DIGESTS:
        first = await scanner.scan("any/repo", digest)
        assert first == await scanner.scan("other/repo", digest)  # the digest alone decides
        assert 1 <= len(first) <= 3
        for finding in first:
            assert finding["id"].startswith("DUMMY-")
            assert finding["severity"] in ORDER
            assert finding["scanners"] == ["dummy"]
            assert finding["ecosystem"] == "dummy"
    assert fake_findings(DIGESTS[0]) != fake_findings(DIGESTS[1])
    everything = [f for d in DIGESTS for f in fake_findings(d)]
    assert {f["severity"] for f in everything} == set(ORDER)
    assert {f["fixed_version"] is None for f in everything} == {True, False}


def test_external_backends_follow_the_settings() -> None:
    client = RegistryClient(RegistrySettings(url="http://registry:5000"))
    settings = ScanTaskSettings.model_validate(
        {
            "backends": ["builtin", "dummy", "harbor-adapter", "clair", "dummy"],
            "clair": {"url": "http://clair:6060/", "timeout": 60},
            "harbor_adapter": {"url": "http://trivy:8080", "api_key": "k", "timeout": 30},
        }
    )
    backends = external_backends(settings, client)
    assert [b.name for b in backends] == ["dummy", "harbor-adapter", "clair"]
    harbor, clair = backends[1], backends[2]
    assert isinstance(harbor, HarborAdapterScanner)
    assert (harbor.root, harbor.api_key, harbor.timeout) == ("http://trivy:8080/api/v1", "k", 30)
    assert isinstance(clair, ClairScanner)
    assert (clair.url, clair.timeout, clair.client) == ("http://clair:6060", 60, client)
    assert external_backends(ScanTaskSettings(), client) == []
