"""The built-in scanner's analysis: from a manifest digest to the image's OS and packages.

Layers are streamed from the registry and read on the fly (``portside.security.analysis``), never
written
to disk; each layer's files of interest are cached by layer digest. For an index, every
platform's image is analyzed (attestations left out) and the packages are merged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from portside.errors import RegistryProtocolError
from portside.registry import mediatypes
from portside.registry.client import Manifest, RegistryClient
from portside.registry.images import index_children
from portside.security.analysis.catalog import catalog
from portside.security.analysis.catalogers.osrelease import detect
from portside.security.analysis.files import LayerFiles
from portside.security.analysis.filesystem import merge
from portside.security.analysis.layers import DEFAULT_LIMITS, read_layer
from portside.security.analysis.limits import Limits
from portside.security.packages import OsRelease, Package
from portside.security.scanning.layercache import LayerCacheStore
from portside.settings import ScanTaskSettings

log = logging.getLogger(__name__)


def limits_of(settings: ScanTaskSettings) -> Limits:
    """The analysis bounds the settings ask for (``background.scan``)."""
    return Limits(
        max_decompressed_bytes=settings.max_layer_bytes,
        max_files=settings.max_layer_files,
        max_file_bytes=settings.max_file_bytes,
    )


@dataclass
class Analysis:
    os: OsRelease | None = None
    packages: list[Package] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layers_read: int = 0
    layers_cached: int = 0


class Analyzer:
    def __init__(
        self, client: RegistryClient, cache: LayerCacheStore, limits: Limits = DEFAULT_LIMITS
    ):
        self.client = client
        self.cache = cache
        self.limits = limits

    async def analyze(self, repository: str, digest: str) -> Analysis:
        manifest = await self.client.get_manifest(repository, digest)
        result = Analysis()
        if manifest.media_type in mediatypes.INDEXES:
            seen: set[tuple[str, str, str]] = set()
            for child in index_children(manifest.json()):
                platform = "/".join(
                    p for p in (child["os"], child["architecture"], child["variant"]) if p
                )
                sub = await self.client.get_manifest(repository, child["digest"])
                image = await self._image(repository, sub, result)
                result.platforms.append(platform)
                result.os = result.os or image[0]
                for package in image[1]:
                    key = (package.ecosystem, package.name, package.version)
                    if key not in seen:
                        seen.add(key)
                        result.packages.append(package)
        else:
            result.os, result.packages = await self._image(repository, manifest, result)
        return result

    async def _image(
        self, repository: str, manifest: Manifest, result: Analysis
    ) -> tuple[OsRelease | None, list[Package]]:
        if manifest.media_type in mediatypes.SCHEMA1:
            raise RegistryProtocolError(f"{manifest.digest}: schema 1 images are not scanned")
        data = manifest.json()
        layers = []
        for descriptor in data.get("layers") or []:
            layers.append(await self._layer(repository, descriptor, result))
        merged = merge(layers)
        os_release = detect(merged)
        found = catalog(merged, os_release)
        result.notes.extend(found.notes)
        return os_release, list(found)

    async def _layer(
        self, repository: str, descriptor: dict[str, Any], result: Analysis
    ) -> LayerFiles:
        digest = descriptor.get("digest")
        media_type = descriptor.get("mediaType") or ""
        if not isinstance(digest, str):
            raise RegistryProtocolError("a layer without a digest")
        cached = await self.cache.get(digest)
        if cached is not None:
            result.layers_cached += 1
            return cached
        layer = await read_layer(
            digest,
            media_type,
            # read_layer checks the blob against its digest itself
            self.client.stream_blob(repository, digest, verify=False),
            limits=self.limits,
        )
        result.layers_read += 1
        await self.cache.put(layer, datetime.now(UTC))
        return layer
