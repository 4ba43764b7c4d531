"""What the external backends share: reading bounded answers, and the images to send."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from portside.registry import mediatypes
from portside.registry.client import Manifest, RegistryClient
from portside.registry.images import index_children
from portside.security.scanning.backends import BackendError


def text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes

    def json(self, what: str) -> dict[str, Any]:
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise BackendError(f"{what}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise BackendError(f"{what}: the answer is not a JSON object")
        return data


async def image_manifests(client: RegistryClient, repository: str, digest: str) -> list[Manifest]:
    """The image manifest, or each platform's manifest of an index (attestations left out):
    scanners take image manifests only."""
    manifest = await client.get_manifest(repository, digest)
    if manifest.media_type in mediatypes.SCHEMA1:
        raise BackendError(f"{digest}: schema 1 images are not scanned")
    if manifest.media_type not in mediatypes.INDEXES and "manifests" not in manifest.json():
        return [manifest]
    children = []
    for child in index_children(manifest.json()):
        sub = await client.get_manifest(repository, child["digest"])
        if sub.media_type in mediatypes.INDEXES or sub.media_type in mediatypes.SCHEMA1:
            raise BackendError(f"{child['digest']}: an index entry that is not an image")
        children.append(sub)
    return children


async def read_bounded(resp: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise BackendError(f"{what}: {resp.content_length} bytes is over the limit of {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in resp.content.iter_any():
        total += len(chunk)
        if total > limit:
            raise BackendError(f"{what}: the answer is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
