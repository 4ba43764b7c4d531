"""The built-in scanner end to end: images built from real package databases, pushed to the
real registry, scanned by the scan task, matched against OSV records copied from real
advisories; re-matching after an import; a hostile layer."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import shutil
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Text, cast, delete, select, text, update

from portside.db.engine import Database
from portside.db.models import Activity, AdvisoryPackage, ScanTarget, Tag
from portside.db.types import compress, encode
from portside.registry.client import RegistryClient
from portside.registry.local import LocalRegistry
from portside.security.scanning import advisory_store
from portside.security.scanning.rematch import rematch
from portside.security.scanning.task import ScanTask
from portside.settings import RegistrySettings, ScanTaskSettings
from portside.sync.one_pass import SyncOptions, SyncRun
from portside.ui.findings import package_table
from tests.support.oci import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Layout, push
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry

DATA = Path(__file__).parent.parent / "data"
SITE = "usr/lib/python3/dist-packages"


def dpkg_status() -> bytes:
    """Real Debian 12 stanzas, libc6 at an earlier real version (affected by DSA-5514-1)."""
    status = (DATA / "scan" / "dpkg" / "status").read_text()
    return status.replace("Version: 2.36-9+deb12u14", "Version: 2.36-9+deb12u2").encode()


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n".encode()


def package_json(name: str, version: str) -> bytes:
    return json.dumps({"name": name, "version": version, "license": "MIT"}).encode()


LAYERS = [
    {
        "etc/os-release": (DATA / "scan" / "dpkg" / "os-release").read_bytes(),
        "var/lib/dpkg/status": dpkg_status(),
    },
    {
        f"{SITE}/Jinja2-3.1.2.dist-info/METADATA": metadata("Jinja2", "3.1.2"),
        f"{SITE}/requests-2.30.0.dist-info/METADATA": metadata("requests", "2.30.0"),
        "app/node_modules/semver/package.json": package_json("semver", "7.5.1"),
        "app/node_modules/ip/package.json": package_json("ip", "2.0.1"),
    },
    # The last layer uninstalls requests: a whiteout hides it from the final file system.
    {f"{SITE}/.wh.requests-2.30.0.dist-info": b""},
]


@dataclass
class Scene:
    db: Database
    registry: LocalRegistry
    digest: str
    task: ScanTask

    async def target(self) -> ScanTarget:
        async with self.db.read() as session:
            target = await session.scalar(
                select(ScanTarget).where(ScanTarget.digest == self.digest)
            )
        assert target is not None
        return target


async def import_osv(db: Database, tmp_path: Path, names: list[str]) -> advisory_store.ImportResult:
    folder = tmp_path / f"osv-{len(list(tmp_path.glob('osv-*')))}"
    folder.mkdir()
    for name in names:
        shutil.copy(DATA / "osv" / f"{name}.json", folder)
    return await advisory_store.import_path(db, folder, datetime.now(UTC))


@pytest.fixture
async def scene(db: Database, tmp_path: Path) -> Any:
    with running_registry(tmp_path / "registry") as registry:
        layout = Layout(tmp_path / "layout")
        image, _ = layout.image(LAYERS)
        layout.tag(image, "1.0")
        digest = await asyncio.to_thread(push, layout.path, "1.0", registry.url, "ns/app")
        settings = RegistrySettings(url=registry.url)
        async with RegistryClient(settings) as client:
            await SyncRun(db, client, SyncOptions()).run()  # the index knows the tag
            task = ScanTask(db, client, ScanTaskSettings(), worker="w")
            yield Scene(db, registry, digest, task)


async def test_an_image_is_scanned_and_matched(
    scene: Scene, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portside")
    await import_osv(
        scene.db,
        tmp_path,
        [
            "DSA-5514-1",
            "GHSA-h5c8-rqwp-cp95",
            "PYSEC-2023-74",
            "GHSA-c2qf-rxjj-qqgw",
            "GHSA-2p57-rm9w-gvfp",
            "DEBIAN-CVE-2024-58382",
            "ALPINE-CVE-2023-38408",
        ],
    )
    run = await scene.task.run_once()
    assert run.more
    target = await scene.target()
    assert target.status == "done", target.error
    assert target.os is not None and target.os["id"] == "debian"
    scanned = [r for r in caplog.records if r.getMessage().startswith("scanned ")]
    assert scanned, caplog.text
    fields = vars(scanned[-1])
    assert (fields["task"], fields["digest"]) == ("scan", target.digest)
    assert fields["packages"] == len(target.packages or []) and fields["duration"] >= 0
    names = {(p["ecosystem"], p["name"]) for p in target.packages or []}
    assert {
        ("deb", "libc6"),
        ("deb", "bash"),
        ("pypi", "jinja2"),
        ("npm", "semver"),
        ("npm", "ip"),
    } <= names
    assert ("pypi", "requests") not in names  # whited out
    found = {f["id"]: f for f in target.findings or []}
    assert set(found) == {
        "DSA-5514-1",
        "GHSA-h5c8-rqwp-cp95",
        "GHSA-c2qf-rxjj-qqgw",
        "GHSA-2p57-rm9w-gvfp",
    }
    assert found["DSA-5514-1"]["package"] == "libc6"  # matched by its source package, glibc
    assert found["DSA-5514-1"]["fixed_version"] == "2.36-9+deb12u3"
    assert "CVE-2023-4911" in found["DSA-5514-1"]["aliases"]
    assert sum((target.counts or {}).values()) == 4
    # The tag page counts each finding for its package (deb under Debian:12, pypi under PyPI).
    table = package_table(target.os, target.packages or [], target.findings or [])
    per_package = {(r.ecosystem, r.name): r.findings for r in table.rows if r.findings}
    assert per_package == {
        ("deb", "libc6"): 1,
        ("pypi", "jinja2"): 1,
        ("npm", "semver"): 1,
        ("npm", "ip"): 1,
    }
    async with scene.db.read() as session:
        tag = await session.scalar(select(Tag).where(Tag.digest == scene.digest))
    assert tag is not None and tag.scan_state == "done"
    # Nothing left to scan; a second image sharing the layers reads none of them again.
    assert not (await scene.task.run_once()).more


async def test_an_import_rematches_without_a_download(scene: Scene, tmp_path: Path) -> None:
    await scene.task.run_once()
    assert (await scene.target()).findings == []  # no vulnerability data yet
    result = await import_osv(scene.db, tmp_path, ["DSA-5514-1", "GHSA-c2qf-rxjj-qqgw"])
    scene.registry.stop()  # re-matching reads the stored package lists, not the registry
    report = await rematch(scene.db, datetime.now(UTC), result.changed_keys)
    assert (report.images, report.changed) == (1, 1)
    target = await scene.target()
    assert {f["id"] for f in target.findings or []} == {"DSA-5514-1", "GHSA-c2qf-rxjj-qqgw"}
    async with scene.db.read() as session:
        (activity,) = (
            await session.scalars(
                select(Activity).where(Activity.kind == "scan.new-vulnerabilities")
            )
        ).all()
    assert activity.repository == "ns/app"
    assert activity.tag == "1.0"
    assert "new" in activity.details["message"] and "ns/app:1.0" in activity.details["message"]
    # The same import again changes nothing.
    again = await import_osv(scene.db, tmp_path, ["DSA-5514-1"])
    assert again.changed == 0


async def test_a_rematch_keeps_other_backends_findings_and_writes_nothing_unchanged(
    scene: Scene, tmp_path: Path
) -> None:
    """The stored findings are compared as text first: the same text is no change (nothing
    written, not even the match time); any other text is decoded, another backend's findings
    kept beside the built-in scanner's."""
    await scene.task.run_once()
    result = await import_osv(scene.db, tmp_path, ["DSA-5514-1", "GHSA-c2qf-rxjj-qqgw"])
    report = await rematch(scene.db, datetime.now(UTC), result.changed_keys)
    assert report.changed == 1
    matched = (await scene.target()).matched_at
    # What is stored is what portside.db.types.encode makes of the findings (what the
    # re-match compares), compressed on SQLite (portside.db.types.CompressedJSON).
    encoded = encode((await scene.target()).findings)
    async with scene.db.read() as session:
        if scene.db.dialect == "sqlite":
            stored = await session.scalar(text("SELECT findings FROM scan_targets"))
            assert stored == compress(encoded)
        else:
            stored = await session.scalar(select(cast(ScanTarget.findings, Text)))
            assert stored == encoded.decode()
    # Nothing changed since: the text is the same, nothing is written.
    assert (await rematch(scene.db, datetime.now(UTC))).changed == 0
    assert (await scene.target()).matched_at == matched
    # Another backend (Clair) reported one more finding at the last scan (stored by hand
    # here: Clair does not run in the tests).
    target = await scene.target()
    clair = {
        "id": "CLAIR-1", "aliases": [], "severity": "High", "package": "zlib1g",
        "version": "1", "ecosystem": "Debian:12", "fixed_version": None, "summary": None,
        "links": [], "scanners": ["clair"],
    }  # fmt: skip
    async with scene.db.write() as session:
        await session.execute(
            update(ScanTarget)
            .where(ScanTarget.id == target.id)
            .values(findings=[*(target.findings or []), clair])
        )
    # A re-match keeps it (the text differs, so the findings are decoded and merged): it
    # writes nothing either, since the built-in part did not change.
    assert (await rematch(scene.db, datetime.now(UTC))).changed == 0
    kept = await scene.target()
    assert {f["id"] for f in kept.findings or []} == {
        "DSA-5514-1",
        "GHSA-c2qf-rxjj-qqgw",
        "CLAIR-1",
    }
    # A changed built-in part (an advisory withdrawn from the data) is written, Clair's kept.
    async with scene.db.write() as session:
        await session.execute(
            delete(AdvisoryPackage).where(AdvisoryPackage.advisory_id == "DSA-5514-1")
        )
    report = await rematch(scene.db, datetime.now(UTC))
    assert report.changed == 1
    after = await scene.target()
    assert {f["id"] for f in after.findings or []} == {"GHSA-c2qf-rxjj-qqgw", "CLAIR-1"}
    assert next(f for f in after.findings or [] if f["id"] == "CLAIR-1")["scanners"] == ["clair"]


def bomb_layer() -> bytes:
    """A tar holding a 64 MiB file of zeros: compresses to ~64 KiB."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    return gzip.compress(raw.getvalue(), mtime=0, compresslevel=9)


def tag_bomb_image(layout: Layout, tag: str = "bomb") -> None:
    """An image whose one layer is :func:`bomb_layer`, tagged ``tag`` in ``layout``."""
    layer = bomb_layer()
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": layout.blob(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": layout.blob(layer), "size": len(layer)}],
        }
    ).encode()
    layout.tag(
        {"mediaType": OCI_MANIFEST, "digest": layout.blob(manifest), "size": len(manifest)}, tag
    )


async def test_a_hostile_layer_fails_the_scan_with_its_reason(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portside")
    with running_registry(tmp_path / "registry") as registry:
        layout = Layout(tmp_path / "layout")
        tag_bomb_image(layout)
        digest = await asyncio.to_thread(push, layout.path, "bomb", registry.url, "ns/bomb")
        async with RegistryClient(RegistrySettings(url=registry.url)) as client:
            await SyncRun(db, client, SyncOptions()).run()
            settings = ScanTaskSettings(max_file_bytes=1024 * 1024)
            await ScanTask(db, client, settings, worker="w").run_once()
    async with db.read() as session:
        target = await session.scalar(select(ScanTarget).where(ScanTarget.digest == digest))
        tag = await session.scalar(select(Tag).where(Tag.digest == digest))
    assert target is not None and target.status == "failed"
    assert "LayerRejected" in (target.error or "")
    assert tag is not None and tag.scan_state == "failed"
    # The failure is logged with the fields operators search for.
    failed = [r for r in caplog.records if getattr(r, "task", None) == "scan"]
    assert failed, caplog.text
    assert vars(failed[-1])["repository"] == "ns/bomb"
    assert vars(failed[-1])["digest"] == digest
    assert "LayerRejected" in vars(failed[-1])["error"]


async def test_a_changed_advisory_updates_stored_findings(scene: Scene, tmp_path: Path) -> None:
    await import_osv(scene.db, tmp_path, ["GHSA-c2qf-rxjj-qqgw"])
    await scene.task.run_once()
    (before,) = (await scene.target()).findings or []
    record = json.loads((DATA / "osv" / "GHSA-c2qf-rxjj-qqgw.json").read_text())
    record["modified"] = "2030-01-01T00:00:00Z"
    record["database_specific"] = {"severity": "CRITICAL"}
    record.pop("severity", None)
    folder = tmp_path / "changed"
    folder.mkdir()
    (folder / "GHSA-c2qf-rxjj-qqgw.json").write_text(json.dumps(record))
    result = await advisory_store.import_path(scene.db, folder, datetime.now(UTC))
    assert result.changed == 1
    report = await rematch(scene.db, datetime.now(UTC), result.changed_keys)
    assert report.changed == 1
    (after,) = (await scene.target()).findings or []
    assert (before["id"], after["id"]) == ("GHSA-c2qf-rxjj-qqgw", "GHSA-c2qf-rxjj-qqgw")
    assert after["severity"] == "Critical"
    assert before["severity"] != "Critical"
    assert (await scene.target()).counts == {"Critical": 1}
