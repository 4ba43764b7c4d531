"""A real registry for a test: Debian's docker-registry on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from portside.registry.local import LocalRegistry, LocalRegistryConfig
from tests.support.net import free_port


@contextmanager
def running_registry(
    root: Path,
    *,
    port: int | None = None,
    notify_url: str | None = None,
    notify_token: str | None = None,
    **options: object,
) -> Iterator[LocalRegistry]:
    config = LocalRegistryConfig(
        root=root,
        port=port or free_port(),
        notify_url=notify_url,
        notify_token=notify_token,
        **options,  # type: ignore[arg-type]
    )
    registry = LocalRegistry(config)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()
