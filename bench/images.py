"""Distinct small OCI images pushed straight through the registry API (no skopeo: fast)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import aiohttp
from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, layer_tar
from yarl import URL


@dataclass(frozen=True)
class Image:
    repository: str
    tag: str
    digest: str
    size: int


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def put_blob(http: aiohttp.ClientSession, base: str, repo: str, data: bytes) -> dict:
    """Monolithic upload: POST an upload session, PUT the bytes with their digest."""
    digest = sha256(data)
    async with http.post(f"{base}/v2/{repo}/blobs/uploads/") as resp:
        resp.raise_for_status()
        location = urljoin(base, resp.headers["Location"])
    url = f"{location}{'&' if '?' in location else '?'}digest={digest}"
    headers = {"Content-Type": "application/octet-stream"}
    async with http.put(URL(url, encoded=True), data=data, headers=headers) as resp:
        resp.raise_for_status()
    return {"digest": digest, "size": len(data)}


async def push_repository(http: aiohttp.ClientSession, base: str, repo: str, tags: int) -> list:
    """Push ``tags`` distinct images: a shared base layer (even ones) plus their own layer."""
    base_tar = layer_tar({"etc/os-release": b"ID=bench\n", "bin/sh": b"\x7fELF" + b"\0" * 2048})
    base_layer = gzip.compress(base_tar, mtime=0)
    images = []
    for n in range(tags):
        tag = f"1.{n}"
        app_tar = layer_tar({"app/VERSION": f"{repo}:{tag} {uuid.uuid4()}\n".encode()})
        app_layer = gzip.compress(app_tar, mtime=0)
        tars, layers = (
            ([base_tar, app_tar], [base_layer, app_layer])
            if n % 2 == 0
            else (
                [app_tar],
                [app_layer],
            )
        )
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "config": {"Labels": {"bench.image": f"{repo}:{tag}"}},
                "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in tars]},
                "history": [{"created_by": f"bench {repo}:{tag}"} for _ in tars],
            }
        ).encode()
        descriptors = [await put_blob(http, base, repo, layer) for layer in layers]
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **await put_blob(http, base, repo, config)},
                "layers": [{"mediaType": OCI_LAYER, **d} for d in descriptors],
            }
        ).encode()
        headers = {"Content-Type": OCI_MANIFEST}
        async with http.put(
            f"{base}/v2/{repo}/manifests/{tag}", data=manifest, headers=headers
        ) as r:
            r.raise_for_status()
        images.append(Image(repo, tag, sha256(manifest), len(manifest)))
    return images


async def populate(base: str, repos: int, tags: int, concurrency: int) -> list[Image]:
    limit = asyncio.Semaphore(concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def one(n: int) -> list[Image]:
            async with limit:
                return await push_repository(http, base, f"bench/app-{n:04d}", tags)

        pushed = await asyncio.gather(*(one(n) for n in range(repos)))
    return [image for images in pushed for image in images]
