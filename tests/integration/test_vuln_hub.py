"""The security hub on both databases: the ``findings`` rows kept in step with the stored
findings by the scan, the re-match and a deleted scan target; the API's filters, alias search,
counts once per vulnerability and CSV; and what a team's viewer may not see.

Images are pushed to the real registry and scanned by the real scan task; advisories are the
real OSV records in ../shared/realosv/osv (one changed copy, made in the test, for a changed
fix).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import delete, func, select, text

from portside.accounts import store as accounts
from portside.accounts.vocabulary import Role, Visibility
from portside.app import create_app
from portside.db import migrate
from portside.db.engine import Database
from portside.db.models import (
    Advisory,
    AdvisoryAlias,
    Finding,
    FindingGroup,
    ImageFindingGroup,
    ScanTarget,
)
from portside.index import store
from portside.registry.client import RegistryClient
from portside.security import findings_store
from portside.security.scanning import advisory_store
from portside.security.scanning import queue as scan_queue
from portside.security.scanning.rematch import rematch
from portside.security.scanning.task import ScanTask
from portside.settings import RegistrySettings, ScanTaskSettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.integration.conftest import make_settings, serving
from tests.support.oci import Layout, push
from tests.support.realosv import real_records
from tests.support.registry import running_registry

ADMIN = "admin-s3cret"
SITE = "usr/lib/python3/dist-packages"
# Real records: semver 7.5.1 (GHSA-c2qf-rxjj-qqgw = CVE-2022-25883, fixed 7.5.2), minimist
# 1.2.5 (GHSA-xvch-5gv4-984h = CVE-2021-44906, fixed 1.2.6), jinja2 2.10 (PYSEC-2019-217 =
# CVE-2019-10906, fixed 2.10.1; PYSEC-2021-66 = CVE-2020-28493, fixed 2.11.3).
RECORDS = ["GHSA-c2qf-rxjj-qqgw", "GHSA-xvch-5gv4-984h", "PYSEC-2019-217", "PYSEC-2021-66"]
SEMVER = "GHSA-c2qf-rxjj-qqgw"
MINIMIST = "GHSA-xvch-5gv4-984h"


def package_json(name: str, version: str) -> bytes:
    return json.dumps({"name": name, "version": version, "license": "MIT"}).encode()


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: x\n".encode()


def layers(*packages: tuple[str, str, str]) -> list[dict[str, bytes]]:
    files: dict[str, bytes] = {}
    for kind, name, version in packages:
        if kind == "npm":
            files[f"app/node_modules/{name}/package.json"] = package_json(name, version)
        else:
            files[f"{SITE}/{name}-{version}.dist-info/METADATA"] = metadata(name, version)
    return [files]


# red/app:1.0 and lib:latest are one image (semver, jinja2); blue/api:2.0 another (semver, minimist).
IMAGE_A = layers(("npm", "semver", "7.5.1"), ("pypi", "Jinja2", "2.10"))
IMAGE_B = layers(("npm", "semver", "7.5.1"), ("npm", "minimist", "1.2.5"))


async def import_real(db: Database, tmp_path: Path, names: list[str]) -> set[tuple[str, str]]:
    folder = tmp_path / f"osv-{len(list(tmp_path.glob('osv-*')))}"
    folder.mkdir()
    for path in real_records(*names):
        shutil.copy(path, folder)  # a temporary folder, outside the repository
    return (await advisory_store.import_path(db, folder, datetime.now(UTC))).changed_keys


async def rows_by_target(db: Database) -> dict[int, dict[tuple[str, str, str, str], Finding]]:
    """Each digest's findings rows, through its links to groups."""
    async with db.read() as session:
        found = (
            await session.execute(
                select(ImageFindingGroup.scan_target_id, Finding).join(
                    Finding, Finding.group_id == ImageFindingGroup.group_id
                )
            )
        ).all()
    out: dict[int, dict[tuple[str, str, str, str], Finding]] = {}
    for target, row in found:
        key = (row.advisory_id, row.ecosystem, row.package, row.version)
        assert key not in out.get(target, {}), key  # one link per finding and digest
        out.setdefault(target, {})[key] = row
    return out


async def unlinked_groups(db: Database) -> int:
    """Groups no digest links to (a write leaves none)."""
    async with db.read() as session:
        linked = select(ImageFindingGroup.group_id)
        return int(
            await session.scalar(
                select(func.count()).select_from(FindingGroup).where(FindingGroup.id.not_in(linked))
            )
            or 0
        )


async def targets(db: Database) -> list[ScanTarget]:
    async with db.read() as session:
        return list((await session.scalars(select(ScanTarget).order_by(ScanTarget.id))).all())


async def assert_in_step(db: Database) -> None:
    """Every target's rows are its stored findings, one row each."""
    rows = await rows_by_target(db)
    for target in await targets(db):
        wanted = findings_store.rows_of(target.findings or [])
        stored = rows.get(target.id, {})
        assert set(stored) == set(wanted), target.digest
        for key, row in stored.items():
            assert (row.fixed_version, row.severity) == wanted[key]
    assert await unlinked_groups(db) == 0


@dataclass
class Hub:
    db: Database
    registry_url: str
    task: ScanTask
    digest_a: str
    digest_b: str


@pytest.fixture
async def hub(db: Database, tmp_path: Path) -> AsyncIterator[Hub]:
    with running_registry(tmp_path / "registry") as registry:
        layout = Layout(tmp_path / "layout")
        image_a, _ = layout.image(IMAGE_A)
        layout.tag(image_a, "1.0")
        layout.tag(image_a, "latest")
        image_b, _ = layout.image(IMAGE_B)
        layout.tag(image_b, "2.0")
        digest_a = await asyncio.to_thread(push, layout.path, "1.0", registry.url, "red/app")
        await asyncio.to_thread(push, layout.path, "latest", registry.url, "lib")
        digest_b = await asyncio.to_thread(push, layout.path, "2.0", registry.url, "blue/api")
        async with RegistryClient(RegistrySettings(url=registry.url)) as client:
            await SyncRun(db, client, SyncOptions()).run()
            task = ScanTask(db, client, ScanTaskSettings(), worker="w")
            yield Hub(db, registry.url, task, digest_a, digest_b)


async def scan_all(hub: Hub) -> None:
    while (await hub.task.run_once()).more:
        pass
    assert {t.status for t in await targets(hub.db)} == {"done"}


async def test_rows_follow_the_scan_the_rematch_and_a_delete(hub: Hub, tmp_path: Path) -> None:
    db = hub.db
    await scan_all(hub)  # no advisories yet: no findings, no rows
    assert await rows_by_target(db) == {}
    changed = await import_real(db, tmp_path, RECORDS)
    async with db.read() as session:
        aliases = dict(
            (await session.execute(select(AdvisoryAlias.key, AdvisoryAlias.advisory_id))).all()
        )
    assert aliases["cve-2022-25883"] == SEMVER and aliases["cve-2021-44906"] == MINIMIST
    assert aliases["ghsa-c2qf-rxjj-qqgw"] == SEMVER  # its own id, any case

    report = await rematch(db, datetime.now(UTC), changed)
    assert report.changed == 2
    await assert_in_step(db)
    rows = await rows_by_target(db)
    by_digest = {t.digest: t.id for t in await targets(db)}
    a, b = rows[by_digest[hub.digest_a]], rows[by_digest[hub.digest_b]]
    assert (SEMVER, "npm", "semver", "7.5.1") in a and (SEMVER, "npm", "semver", "7.5.1") in b
    assert (MINIMIST, "npm", "minimist", "1.2.5") in b
    assert {key[0] for key in a} >= {"PYSEC-2019-217", "PYSEC-2021-66"}
    # The two digests have semver 7.5.1 with the same findings: one group, linked twice.
    semver = (SEMVER, "npm", "semver", "7.5.1")
    assert a[semver].group_id == b[semver].group_id  # the same row: (group, advisory)
    first_seen = {key: row.group_id for key, row in b.items()}

    # A rescan writes the same rows: they keep their groups.
    async with db.write() as session:
        await scan_queue.request_rescan(session, None, datetime.now(UTC))
    await scan_all(hub)
    await assert_in_step(db)
    again = (await rows_by_target(db))[by_digest[hub.digest_b]]
    assert {key: row.group_id for key, row in again.items()} == first_seen

    # A changed advisory (a copy of the real record, changed here: a later fix) changes the
    # row: semver's findings are another group, the old one is gone (assert_in_step).
    record = json.loads(real_records(SEMVER)[0].read_text())
    record["modified"] = "2030-01-01T00:00:00Z"
    for affected in record["affected"]:
        for r in affected.get("ranges", []):
            r["events"] = [e if "fixed" not in e else {"fixed": "7.5.3"} for e in r["events"]]
    folder = tmp_path / "changed"
    folder.mkdir()
    (folder / f"{SEMVER}.json").write_text(json.dumps(record))
    imported = await advisory_store.import_path(db, folder, datetime.now(UTC))
    report = await rematch(db, datetime.now(UTC), imported.changed_keys)
    assert report.changed == 2
    await assert_in_step(db)
    row = (await rows_by_target(db))[by_digest[hub.digest_b]][(SEMVER, "npm", "semver", "7.5.1")]
    assert row.fixed_version == "7.5.3"
    assert row.group_id != first_seen[semver]
    # minimist's group did not change.
    minimist = (MINIMIST, "npm", "minimist", "1.2.5")
    assert (await rows_by_target(db))[by_digest[hub.digest_b]][minimist].group_id == (
        first_seen[minimist]
    )

    # Deleting a scan target deletes its links (in the same statement: a foreign key).
    async with db.write() as session:
        await session.execute(delete(ScanTarget).where(ScanTarget.id == by_digest[hub.digest_b]))
    assert set(await rows_by_target(db)) == {by_digest[hub.digest_a]}


async def set_up_accounts(db: Database, registry_url: str) -> dict[str, str]:
    """Teams red and blue own the namespaces red and blue (private); alice views red, bob
    views blue; lib is in the global namespace (public). Their personal tokens."""
    now = datetime.now(UTC)
    tokens = {}
    async with db.write() as session:
        registry_id = await store.ensure_registry(session, registry_url, now)
        for user, team in (("alice", "red"), ("bob", "blue")):
            await accounts.add_user(session, user, now, registry_id=registry_id)
            await accounts.add_user(session, f"{team}-owner", now, registry_id=registry_id)
            await accounts.add_team(session, team, f"{team}-owner", now)
            await accounts.set_member(session, team, user, Role.VIEWER, now)
            await accounts.set_namespace(
                session, team, team_name=team, visibility=Visibility.PRIVATE
            )
            _, tokens[user] = await accounts.add_token(session, user, "hub", now)
    return tokens


@pytest.fixture
async def served(hub: Hub, database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    await scan_all(hub)
    await rematch(hub.db, datetime.now(UTC), await import_real(hub.db, tmp_path, RECORDS))
    tokens = await set_up_accounts(hub.db, hub.registry_url)
    settings = make_settings(
        database_url, api={"admin_tokens": [ADMIN]}, registry={"url": hub.registry_url}
    )
    async with (
        serving(create_app(settings), settings.server.port) as base,
        aiohttp.ClientSession() as http,
    ):

        async def get(path: str, who: str = ADMIN, **params: Any) -> tuple[int, Any]:
            token = tokens.get(who, who)
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{base}{path}", params=params, headers=headers) as resp:
                if resp.content_type == "text/csv":
                    return resp.status, list(csv.reader(io.StringIO(await resp.text())))
                return resp.status, await resp.json()

        yield get


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in body["items"]}


async def test_the_hub_lists_and_finds_vulnerabilities(served: Any) -> None:
    get = served
    status, body = await get("/api/v1/vulnerabilities")
    assert status == 200, body
    found = by_id(body)
    assert body["total"] == len(found) >= 4
    semver = found[SEMVER]
    # Counted once per vulnerability: two images (one of them tagged twice), three tags.
    assert (semver["images"], semver["tags"]) == (2, 3)
    assert "CVE-2022-25883" in semver["aliases"] and semver["fix_available"] is True
    assert semver["severity"] == "High" and semver["summary"]
    assert (found[MINIMIST]["images"], found[MINIMIST]["tags"]) == (1, 1)
    assert body["items"][0]["id"] == SEMVER  # the most widespread first

    # By alias (any case), by id, by package, by severity, fix, namespace, repository.
    for q in ("CVE-2022-25883", "cve-2022-25883", SEMVER):
        _, body = await get("/api/v1/vulnerabilities", q=q)
        assert list(by_id(body)) == [SEMVER], q
    _, body = await get("/api/v1/vulnerabilities", package="minimist")
    assert list(by_id(body)) == [MINIMIST]
    _, body = await get("/api/v1/vulnerabilities", package="jinja2")
    assert set(by_id(body)) >= {"PYSEC-2019-217", "PYSEC-2021-66"}
    assert all(v["images"] == 1 and v["tags"] == 2 for v in body["items"])
    _, body = await get("/api/v1/vulnerabilities", severity="Critical")
    assert all(v["severity"] == "Critical" for v in body["items"])
    assert SEMVER not in by_id(body)
    _, body = await get("/api/v1/vulnerabilities", fixable="false")
    assert body["items"] == [] or all(not v["fix_available"] for v in body["items"])
    _, body = await get("/api/v1/vulnerabilities", namespace="blue")
    assert set(by_id(body)) == {SEMVER, MINIMIST}
    assert (by_id(body)[SEMVER]["images"], by_id(body)[SEMVER]["tags"]) == (1, 1)
    _, body = await get("/api/v1/vulnerabilities", repository="lib", q="CVE-2022-25883")
    assert (by_id(body)[SEMVER]["images"], by_id(body)[SEMVER]["tags"]) == (1, 1)
    _, body = await get("/api/v1/vulnerabilities", per_page=1, page=2)
    assert len(body["items"]) == 1 and body["total"] >= 4

    # One vulnerability by alias: every affected tag, with package and versions.
    status, body = await get("/api/v1/vulnerabilities/CVE-2022-25883")
    assert status == 200, body
    assert [a["id"] for a in body["advisories"]] == [SEMVER]
    assert sorted((a["repository"], a["tag"]) for a in body["affected"]) == [
        ("blue/api", "2.0"),
        ("lib", "latest"),
        ("red/app", "1.0"),
    ]
    assert {(a["package"], a["version"], a["fixed_version"]) for a in body["affected"]} == {
        ("semver", "7.5.1", "7.5.2")
    }
    assert body["total"] == 3

    # CSV: the list and one vulnerability, with the same filters.
    status, lines = await get("/api/v1/vulnerabilities.csv", package="minimist")
    assert status == 200
    assert lines[0][:3] == ["id", "aliases", "severity"]
    assert [line[0] for line in lines[1:]] == [MINIMIST]
    status, lines = await get("/api/v1/vulnerabilities/cve-2022-25883.csv")
    assert status == 200
    assert lines[0] == findings_store_header()
    assert sorted(line[0] for line in lines[1:]) == ["blue/api", "lib", "red/app"]
    _, lines = await get("/api/v1/vulnerabilities/CVE-2022-25883.csv", namespace="red")
    assert [line[0] for line in lines[1:]] == ["red/app"]

    # Unknown: 404; not an id, not a package name, too long: 422.
    status, body = await get("/api/v1/vulnerabilities/CVE-1999-0001")
    assert status == 404 and body["error"]["code"] == "not_found"
    for params in (
        {"q": "CVE-1 OR 1=1"},
        {"package": "a b"},
        {"package": "=cmd|' /C calc'!A0"},
        {"q": "x" * 300},
        {"severity": "Dire"},
        {"namespace": "Not/Valid"},
        {"repository": "UPPER"},
        {"fixable": "maybe"},
        {"page": "0"},
    ):
        status, body = await get("/api/v1/vulnerabilities", **params)
        assert status == 422, params
    status, _ = await get("/api/v1/vulnerabilities", package="a\x00b")
    assert status == 400  # a NUL never reaches a handler (api/admission.py)


def findings_store_header() -> list[str]:
    return [
        "repository",
        "tag",
        "digest",
        "advisory_id",
        "package",
        "version",
        "fixed_version",
        "severity",
        "allowed_by",
        "allowed_until",
        "allowed_reason",
    ]


async def test_a_viewer_sees_only_the_images_it_may_read(served: Any) -> None:
    get = served
    # alice views red: red/app:1.0 and the public lib:latest (the same image), not blue.
    _, body = await get("/api/v1/vulnerabilities", who="alice")
    found = by_id(body)
    assert MINIMIST not in found
    assert (found[SEMVER]["images"], found[SEMVER]["tags"]) == (1, 2)
    status, _ = await get(f"/api/v1/vulnerabilities/{MINIMIST}", who="alice")
    assert status == 404
    _, lines = await get("/api/v1/vulnerabilities/CVE-2022-25883.csv", who="alice")
    assert sorted(line[0] for line in lines[1:]) == ["lib", "red/app"]
    _, lines = await get("/api/v1/vulnerabilities.csv", who="alice")
    assert MINIMIST not in {line[0] for line in lines}
    # bob views blue: blue/api:2.0, and image A only through the public lib:latest.
    _, body = await get("/api/v1/vulnerabilities/CVE-2022-25883", who="bob")
    assert sorted((a["repository"], a["tag"]) for a in body["affected"]) == [
        ("blue/api", "2.0"),
        ("lib", "latest"),
    ]
    _, body = await get("/api/v1/vulnerabilities", who="bob", namespace="red")
    assert body["items"] == [] and body["total"] == 0
    # A wrong token is refused, not read as anonymous.
    status, _ = await get("/api/v1/vulnerabilities", who="pst_not-a-token")
    assert status == 401


async def test_the_migration_fills_the_rows_from_what_is_stored(db: Database) -> None:
    """Down to 0009 (no rows), a scan result and an advisory stored as before, up again
    (0010 fills the rows per finding, 0013 per group): the rows are what the stored JSON
    says; down to 0012 and up again gives them back the same."""

    def downgrade(connection: Any) -> None:
        from alembic import command

        command.downgrade(migrate.alembic_config(connection), "0009")

    async with db.engine.begin() as conn:
        await conn.run_sync(downgrade)
    now = datetime.now(UTC)
    record = json.loads(real_records(SEMVER)[0].read_text())
    findings = [
        {"id": SEMVER, "package": "semver", "version": "7.5.1", "ecosystem": "npm",
         "severity": "High", "fixed_version": "7.5.2", "aliases": ["CVE-2022-25883"]},
        {"id": SEMVER, "package": "semver", "version": "7.5.1", "ecosystem": "npm",
         "severity": "High", "fixed_version": "7.5.2"},  # the same key twice: one row
        {"id": "CLAIR-1", "package": "zlib", "version": "1", "severity": "Dire"},
    ]  # fmt: skip
    async with db.write() as session:
        session.add(Advisory(id=SEMVER, severity="High", summary="s", data=record, imported_at=now))
        session.add(
            ScanTarget(
                digest="sha256:" + "1" * 64, repository="a/b", status="done", priority=0,
                attempts=1, available_at=now, created_at=now, scanned_at=now,
                findings=findings,
            )
        )  # fmt: skip
        session.add(
            ScanTarget(
                digest="sha256:" + "2" * 64, repository="a/c", status="pending", priority=0,
                attempts=0, available_at=now, created_at=now,
            )
        )  # fmt: skip
    if db.dialect == "sqlite":  # stored as text, as before 0017 (the model compresses it)
        async with db.write() as session:
            await session.execute(
                text("UPDATE scan_targets SET findings = :f WHERE findings IS NOT NULL"),
                {"f": json.dumps(findings)},
            )
    await migrate.upgrade(db)
    rows = await rows_by_target(db)
    (target_id,) = rows
    assert set(rows[target_id]) == {
        (SEMVER, "npm", "semver", "7.5.1"),
        ("CLAIR-1", "", "zlib", "1"),
    }
    assert rows[target_id][("CLAIR-1", "", "zlib", "1")].severity == "Unknown"
    await assert_in_step(db)

    def down_to_0012(connection: Any) -> None:
        from alembic import command

        command.downgrade(migrate.alembic_config(connection), "0012")

    async with db.engine.begin() as conn:
        await conn.run_sync(down_to_0012)
        legacy = (
            await conn.execute(
                text(
                    "SELECT l.scan_target_id, f.advisory_id, f.package FROM image_findings l "
                    "JOIN findings f ON f.id = l.finding_id"
                )
            )
        ).all()
    assert sorted(legacy) == [(target_id, "CLAIR-1", "zlib"), (target_id, SEMVER, "semver")]
    await migrate.upgrade(db)
    assert set(await rows_by_target(db)) == {target_id}
    await assert_in_step(db)
    async with db.read() as session:
        aliases = set((await session.execute(select(AdvisoryAlias.key, AdvisoryAlias.alias))).all())
    assert aliases == {(SEMVER.lower(), SEMVER), ("cve-2022-25883", "CVE-2022-25883")}
