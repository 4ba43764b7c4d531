"""Fill a registry fast through its HTTP API (monolithic blob uploads, manifest PUTs).

skopeo takes ~0.1 s a push; a test that needs hundreds of repositories pushes this way.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urljoin

import aiohttp

from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, layer_tar

BASE_LAYER = gzip.compress(layer_tar({"etc/os-release": b"ID=debian\nVERSION_ID=12\n"}), mtime=0)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Image:
    manifest: bytes
    blobs: tuple[bytes, ...]

    @property
    def digest(self) -> str:
        return _digest(self.manifest)


def make_image(seed: str) -> Image:
    """A small image: a shared base layer and one layer of its own."""
    own = gzip.compress(layer_tar({"app/seed": seed.encode()}), mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "rootfs": {"type": "layers", "diff_ids": [_digest(BASE_LAYER), _digest(own)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": _digest(b), "size": len(b)}
                for b in (BASE_LAYER, own)
            ],
        }
    ).encode()
    return Image(manifest, (config, BASE_LAYER, own))


class Pusher:
    """``async with Pusher(url) as p: await p.push("ns/app", "1.0", make_image("x"))``"""

    def __init__(self, url: str, *, auth: aiohttp.BasicAuth | None = None, concurrency: int = 16):
        self.url = url.rstrip("/")
        self.auth = auth
        self.limit = asyncio.Semaphore(concurrency)
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Pusher:
        self.session = aiohttp.ClientSession(auth=self.auth)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None
        await self.session.close()

    async def _blob(self, repository: str, data: bytes) -> None:
        assert self.session is not None
        digest = _digest(data)
        async with self.session.head(f"{self.url}/v2/{repository}/blobs/{digest}") as resp:
            if resp.status == 200:
                return
        async with self.session.post(f"{self.url}/v2/{repository}/blobs/uploads/") as resp:
            if resp.status != 202:
                raise RuntimeError(f"upload to {repository}: {resp.status} {await resp.text()}")
            location = urljoin(self.url + "/", resp.headers["Location"])
        async with self.session.put(
            location,
            params={"digest": digest},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        ) as resp:
            if resp.status != 201:
                raise RuntimeError(f"upload to {repository}: {resp.status} {await resp.text()}")

    async def push(self, repository: str, tag: str, image: Image) -> str:
        assert self.session is not None
        async with self.limit:
            for blob in image.blobs:
                await self._blob(repository, blob)
            async with self.session.put(
                f"{self.url}/v2/{repository}/manifests/{tag}",
                data=image.manifest,
                headers={"Content-Type": OCI_MANIFEST},
            ) as resp:
                if resp.status >= 300:
                    raise RuntimeError(f"PUT manifest {repository}:{tag}: {await resp.text()}")
        return image.digest

    async def delete(self, repository: str, digest: str) -> None:
        assert self.session is not None
        async with self.session.delete(f"{self.url}/v2/{repository}/manifests/{digest}") as resp:
            resp.raise_for_status()
