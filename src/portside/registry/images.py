"""What an image is: digest, media type, config, size, platforms, read from its manifests.

The parsing functions are pure; :func:`describe` does the fetching through a RegistryClient.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from portside.errors import RegistryProtocolError
from portside.registry import mediatypes
from portside.registry.client import Manifest, RegistryClient
from portside.timefmt import parse_rfc3339

MAX_CONFIG_BYTES = 4 * 1024 * 1024
ATTESTATION = "attestation-manifest"


@dataclass(frozen=True)
class ImageInfo:
    digest: str
    media_type: str
    config_digest: str | None = None
    size: int | None = None
    platforms: list[dict[str, Any]] = field(default_factory=list)
    created: datetime | None = None
    described: bool = True  # False: only the manifest was read (see from_manifest)


def _descriptor_size(descriptor: object) -> int:
    if not isinstance(descriptor, dict):
        raise RegistryProtocolError("a descriptor is not a JSON object")
    size = descriptor.get("size", 0)
    if not isinstance(size, int) or size < 0:
        raise RegistryProtocolError(f"a descriptor's size is not a count of bytes: {size!r}")
    return size


def image_size(manifest: dict[str, Any]) -> int:
    """Config plus layers, as the registry stores them (compressed)."""
    layers = manifest.get("layers") or []
    if not isinstance(layers, list):
        raise RegistryProtocolError("layers is not a list")
    config = manifest.get("config")
    return (_descriptor_size(config) if config else 0) + sum(_descriptor_size(x) for x in layers)


def config_digest(manifest: dict[str, Any]) -> str | None:
    config = manifest.get("config")
    if isinstance(config, dict) and isinstance(config.get("digest"), str):
        return str(config["digest"])
    return None


def is_attestation(descriptor: dict[str, Any]) -> bool:
    annotations = descriptor.get("annotations") or {}
    platform = descriptor.get("platform") or {}
    return (
        isinstance(annotations, dict)
        and annotations.get("vnd.docker.reference.type") == ATTESTATION
    ) or (platform.get("os") == "unknown" and platform.get("architecture") == "unknown")


def index_children(index: dict[str, Any]) -> list[dict[str, Any]]:
    """The platform manifests of an index, attestations left out."""
    manifests = index.get("manifests")
    if not isinstance(manifests, list):
        raise RegistryProtocolError("an index without a manifests list")
    children = []
    for item in manifests:
        if not isinstance(item, dict) or not isinstance(item.get("digest"), str):
            raise RegistryProtocolError("an index entry without a digest")
        if is_attestation(item):
            continue
        platform = item.get("platform") or {}
        children.append(
            {
                "os": platform.get("os"),
                "architecture": platform.get("architecture"),
                "variant": platform.get("variant"),
                "digest": item["digest"],
                "media_type": item.get("mediaType"),
                "size": None,
            }
        )
    return children


def platform_from_config(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "os": config.get("os"),
        "architecture": config.get("architecture"),
        "variant": config.get("variant"),
    }


def created_from_config(config: dict[str, Any]) -> datetime | None:
    value = config.get("created")
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def from_manifest(manifest: Manifest) -> ImageInfo:
    """What the manifest alone tells (pure): digest, media type, and for an image its config
    digest and size, for an index its platforms without their sizes. ``described`` is False
    when the config (platform, created) or the platforms' manifests must still be read."""
    if manifest.media_type in mediatypes.SCHEMA1:
        return ImageInfo(digest=manifest.digest, media_type=manifest.media_type)
    data = manifest.json()
    if manifest.media_type in mediatypes.INDEXES or "manifests" in data:
        children = index_children(data)
        return ImageInfo(
            digest=manifest.digest,
            media_type=manifest.media_type,
            size=0 if not children else None,
            platforms=children,
            described=not children,
        )
    digest = config_digest(data)
    return ImageInfo(
        digest=manifest.digest,
        media_type=manifest.media_type,
        config_digest=digest,
        size=image_size(data),
        described=digest is None,
    )


async def complete(
    client: RegistryClient,
    repository: str,
    image: ImageInfo,
    configs: dict[str, dict[str, Any]] | None = None,
) -> ImageInfo:
    """Read what the manifest does not tell: an image's config (platform, created), an index's
    platform manifests (their sizes). ``configs`` shares config blobs by digest between calls:
    they are content-addressed, so two images with one config need one read."""
    if image.described:
        return image
    if image.config_digest is not None:
        config = configs.get(image.config_digest) if configs is not None else None
        if config is None:
            config = await client.get_json_blob(repository, image.config_digest, MAX_CONFIG_BYTES)
            if configs is not None:
                configs[image.config_digest] = config
        platform = {**platform_from_config(config), "digest": image.digest, "size": image.size}
        return replace(
            image, platforms=[platform], created=created_from_config(config), described=True
        )

    async def child_size(child: dict[str, Any]) -> dict[str, Any]:
        sub = await client.get_manifest(repository, child["digest"])
        return {**child, "size": image_size(sub.json()), "media_type": sub.media_type}

    platforms = list(await asyncio.gather(*(child_size(c) for c in image.platforms)))
    total = sum(p["size"] or 0 for p in platforms)
    return replace(image, size=total, platforms=platforms, described=True)


async def describe(client: RegistryClient, repository: str, reference: str) -> ImageInfo:
    """Fetch a manifest (and its config, or its children for an index) and describe it."""
    return await describe_manifest(
        client, repository, await client.get_manifest(repository, reference)
    )


async def describe_manifest(
    client: RegistryClient, repository: str, manifest: Manifest
) -> ImageInfo:
    """Describe a fetched manifest: its config for an image, its children for an index."""
    return await complete(client, repository, from_manifest(manifest))
