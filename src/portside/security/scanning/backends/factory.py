"""The external scanner backends the settings turn on."""

from __future__ import annotations

from portside.errors import ConfigError
from portside.registry.client import RegistryClient
from portside.security.scanning.backends import ExternalScanner
from portside.security.scanning.backends.clair import ClairScanner
from portside.security.scanning.backends.dummy import DummyScanner
from portside.security.scanning.backends.harbor import HarborAdapterScanner
from portside.settings import ScannerBackend, ScanTaskSettings


def external_backends(settings: ScanTaskSettings, client: RegistryClient) -> list[ExternalScanner]:
    """Every backend but the built-in one, in the order the settings name them. Nothing
    connects here: the adapter's metadata is read at its first scan."""
    backends: list[ExternalScanner] = []
    for name in dict.fromkeys(settings.backends):
        if name is ScannerBackend.BUILTIN:
            continue
        if name is ScannerBackend.CLAIR:
            if not settings.clair.url:
                raise ConfigError("background.scan.clair.url: needed by the clair backend")
            backends.append(
                ClairScanner(client, url=settings.clair.url, timeout=settings.clair.timeout)
            )
        elif name is ScannerBackend.HARBOR_ADAPTER:
            adapter = settings.harbor_adapter
            if not adapter.url:
                raise ConfigError(
                    "background.scan.harbor_adapter.url: needed by the harbor-adapter backend"
                )
            backends.append(
                HarborAdapterScanner(
                    client,
                    url=adapter.url,
                    api_key=adapter.api_key.get_secret_value(),
                    timeout=adapter.timeout,
                )
            )
        elif name is ScannerBackend.DUMMY:
            backends.append(DummyScanner())
        else:
            raise ConfigError(f"background.scan.backends: unknown scanner backend {name.value}")
    return backends
