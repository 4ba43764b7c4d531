"""The external scanner backends the settings turn on."""

from __future__ import annotations

from portside.registry.client import RegistryClient
from portside.scanning.backends import ExternalScanner
from portside.settings import ScannerBackend, ScanTaskSettings


def external_backends(settings: ScanTaskSettings, client: RegistryClient) -> list[ExternalScanner]:
    """Every backend but the built-in one, in the order the settings name them."""
    backends: list[ExternalScanner] = []
    for name in settings.backends:
        if name is ScannerBackend.BUILTIN:
            continue
        raise NotImplementedError(f"scanner backend {name.value} is not available yet")
    return backends
