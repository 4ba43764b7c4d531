"""``portside demo``: a small, real OCI image to look at on the first screen.

The image is built here, in memory, and pushed with Portside's own registry client: one gzip
layer holding what a Debian 12 image with Python libraries holds for a scanner (``os-release``,
dpkg's ``status`` with the real entries of a few bookworm packages, the ``METADATA`` of the
Python libraries bookworm ships), an OCI image config and an OCI manifest. The versions are
the ones Debian 12 released with, so OSV's Debian and PyPI advisories (for example the real
records under ``../shared/realosv`` in the tests) find vulnerabilities in them. Nothing runs in
the image: it has no binaries.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

from portside.registry import mediatypes
from portside.registry.client import RegistryClient

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REPOSITORY = "demo/bookworm-python"
TAG = "1.0"
CREATED = "2023-06-10T00:00:00Z"  # Debian 12.0's release day

# dpkg status entries of real Debian 12.0 packages (name, source, version, architecture).
DEBIAN_PACKAGES = (
    ("libc6", "glibc", "2.36-9", "amd64"),
    ("libssl3", "openssl", "3.0.9-1", "amd64"),
    ("openssl", "openssl", "3.0.9-1", "amd64"),
    ("zlib1g", "zlib", "1:1.2.13.dfsg-1", "amd64"),
    ("libexpat1", "expat", "2.5.0-1", "amd64"),
    ("python3.11", "python3.11", "3.11.2-6", "amd64"),
)
# Python libraries as bookworm packages them (python3-requests, python3-urllib3, python3-jinja2).
PYTHON_PACKAGES = (("requests", "2.28.1"), ("urllib3", "1.26.12"), ("Jinja2", "3.1.2"))
OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@dataclass(frozen=True)
class Image:
    layers: tuple[Blob, ...]
    config: Blob
    manifest: Blob


def dpkg_status() -> str:
    entries = []
    for name, source, version, arch in DEBIAN_PACKAGES:
        source_line = f"Source: {source}\n" if source != name else ""
        entries.append(
            f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"{source_line}Version: {version}\nArchitecture: {arch}\n"
            f"Maintainer: Debian <debian@lists.debian.org>\nDescription: {name}\n"
        )
    return "\n".join(entries)


def files() -> dict[str, bytes]:
    """The layer's files, by path."""
    found = {
        "etc/os-release": OS_RELEASE.encode(),
        "etc/debian_version": b"12.0\n",
        "var/lib/dpkg/status": dpkg_status().encode(),
    }
    for name, version in PYTHON_PACKAGES:
        folder = f"usr/lib/python3/dist-packages/{name.lower()}-{version}.dist-info"
        found[f"{folder}/METADATA"] = (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        )
    return found


def layer(contents: dict[str, bytes]) -> tuple[bytes, str]:
    """A reproducible tar+gzip layer of ``contents``; (compressed bytes, diff id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folders = sorted(
            {p.rsplit("/", n)[0] for p in contents for n in range(1, p.count("/") + 1)}
        )
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        for path, data in sorted(contents.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    return gzip.compress(plain, mtime=0), "sha256:" + hashlib.sha256(plain).hexdigest()


def build() -> Image:
    compressed, diff_id = layer(files())
    layer_blob = Blob(OCI_LAYER_GZIP, compressed)
    config = {
        "created": CREATED,
        "author": "portside demo",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.title": "Portside demo image"}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": "portside demo"}],
    }
    config_blob = Blob(OCI_CONFIG, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [layer_blob.descriptor()],
    }
    manifest_blob = Blob(mediatypes.OCI_MANIFEST, json.dumps(manifest, sort_keys=True).encode())
    return Image((layer_blob,), config_blob, manifest_blob)


async def push(client: RegistryClient, repository: str, tag: str) -> str:
    """Push the demo image as ``repository:tag``; its manifest digest."""
    image = build()
    for blob in (*image.layers, image.config):
        await client.push_blob(repository, blob.data)
    return await client.put_manifest(
        repository, tag, image.manifest.media_type, image.manifest.data
    )
