"""Build small OCI image layouts on disk and push them with skopeo (test helper)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


@dataclass
class Built:
    digest: str
    size: int  # config + layers
    media_type: str


class Layout:
    """An OCI image layout directory with any number of tagged images and indexes."""

    def __init__(self, path: Path):
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.refs: list[dict[str, object]] = []

    def blob(self, data: bytes) -> str:
        digest = _digest(data)
        (self.path / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return digest

    def image(
        self,
        files: dict[str, bytes] | list[dict[str, bytes]],
        *,
        architecture: str = "amd64",
        os: str = "linux",
        author: str = "tests",
        created: str = "2026-01-02T03:04:05.123456789Z",
    ) -> tuple[dict[str, object], Built]:
        """An image of one layer (a dict of files) or several (a list of them, lowest first)."""
        tars = [layer_tar(f) for f in ([files] if isinstance(files, dict) else files)]
        layers = [gzip.compress(tar, mtime=0) for tar in tars]
        config = json.dumps(
            {
                "architecture": architecture,
                "os": os,
                "author": author,
                "created": created,
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [_digest(tar) for tar in tars]},
                "history": [{"created": created, "created_by": "tests"} for _ in tars],
            }
        ).encode()
        config_descriptor = {
            "mediaType": OCI_CONFIG,
            "digest": self.blob(config),
            "size": len(config),
        }
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config_descriptor,
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": self.blob(layer), "size": len(layer)}
                    for layer in layers
                ],
            }
        ).encode()
        digest = self.blob(manifest)
        descriptor = {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(manifest),
            "platform": {"architecture": architecture, "os": os},
        }
        return descriptor, Built(digest, len(config) + sum(len(x) for x in layers), OCI_MANIFEST)

    def tag(self, descriptor: dict[str, object], name: str) -> None:
        ref = dict(descriptor)
        ref.pop("platform", None)
        ref["annotations"] = {"org.opencontainers.image.ref.name": name}
        self.refs = [r for r in self.refs if r["annotations"] != ref["annotations"]]  # type: ignore[comparison-overlap]
        self.refs.append(ref)
        (self.path / "index.json").write_text(
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs})
        )

    def index(self, children: list[dict[str, object]]) -> tuple[dict[str, object], Built]:
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
        ).encode()
        digest = self.blob(body)
        return (
            {"mediaType": OCI_INDEX, "digest": digest, "size": len(body)},
            Built(digest, 0, OCI_INDEX),
        )


def push(
    layout: Path,
    tag: str,
    registry: str,
    repository: str,
    *,
    docker_v2s2: bool = False,
    all_platforms: bool = False,
    creds: str | None = None,
) -> str:
    """skopeo copy oci:LAYOUT:TAG docker://REGISTRY/REPOSITORY:TAG; returns the pushed digest."""
    host = registry.removeprefix("http://").removeprefix("https://")
    digest_file = layout.parent / f".digest-{abs(hash((str(layout), tag, repository)))}"
    cmd = [
        "skopeo",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--digestfile",
        str(digest_file),
    ]
    if docker_v2s2:
        cmd += ["--format", "v2s2"]
    if all_platforms:
        cmd += ["--all"]
    if creds:
        cmd += ["--dest-creds", creds]
    else:
        cmd += ["--dest-no-creds"]
    cmd += [f"oci:{layout}:{tag}", f"docker://{host}/{repository}:{tag}"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return digest_file.read_text().strip()
