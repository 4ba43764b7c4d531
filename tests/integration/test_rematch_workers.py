"""A re-match in worker processes stores what one in the re-match's own process stores (the
findings, counts, hub rows and activities of every image), on both databases; with its worker
processes killed, it matches the rest in its own process. The images hold packages that real
advisories (../shared/realosv/osv, PyPI and npm) list as affected."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from portside.db.engine import Database
from portside.db.models import (
    Activity,
    Finding,
    FindingGroup,
    ImageFindingGroup,
    ScanTarget,
    Tag,
)
from portside.db.types import compresses
from portside.index import store
from portside.security.advisories.ecosystems import normalize_name
from portside.security.advisories.osv import parse_advisory
from portside.security.packages import Package
from portside.security.scanning import advisory_store, rematch_workers
from portside.security.scanning import rematch as rematch_module
from portside.security.scanning.records import package_record
from portside.security.scanning.rematch import rematch
from portside.security.scanning.rematch_matcher import Matcher
from tests.support.realosv import real_osv

TYPES = {"PyPI": "pypi", "npm": "npm"}


def affected_packages() -> list[Package]:
    """A package at a version each real PyPI or npm record lists as affected."""
    found: dict[tuple[str, str], Package] = {}
    for file in sorted(real_osv().glob("*.json")):
        advisory = parse_advisory(json.loads(file.read_text())).advisory
        for affected in advisory.affected:
            kind = TYPES.get(affected.ecosystem)
            if kind is None or not affected.versions:
                continue
            version = sorted(affected.versions)[0]
            found.setdefault((kind, affected.name), Package(affected.name, version, kind))
    return list(found.values())


async def scanned_images(db: Database, tmp_path: Path, images: int) -> None:
    """The real records imported, and ``images`` scanned images (tagged) of 3-12 of their
    affected packages each (and one no advisory names), none matched yet."""
    folder = tmp_path / "osv"
    shutil.copytree(real_osv(), folder)
    await advisory_store.import_path(db, folder, datetime.now(UTC))
    rng = random.Random(7)
    packages = affected_packages()
    assert len(packages) > 20
    now = datetime.now(UTC) - timedelta(days=1)
    async with db.write() as session:
        registry = await store.ensure_registry(session, "http://registry.invalid", now)
        names = [f"team/app{n}" for n in range(images)]
        repos, _ = await store.ensure_repositories(session, registry, names, now)
        for n, name in enumerate(names):
            digest = f"sha256:{n:064x}"
            chosen = [
                *rng.sample(packages, rng.randint(3, 12)),
                Package("left-pad", "1.3.0", "npm"),
            ]
            session.add(
                ScanTarget(
                    digest=digest, repository=name, status="done", available_at=now,
                    os=None, packages=[package_record(p) for p in chosen], findings=[],
                    counts={}, scanned_at=now, created_at=now,
                )
            )  # fmt: skip
            session.add(
                Tag(
                    repository_id=repos[name].id, name="latest", digest=digest,
                    source_at=now, created_at=now, updated_at=now,
                )
            )  # fmt: skip


async def stored(db: Database) -> dict[str, Any]:
    """Everything a re-match writes, by digest."""
    async with db.read() as session:
        targets = await session.execute(
            select(ScanTarget.digest, ScanTarget.findings, ScanTarget.counts)
        )
        rows = await session.execute(
            select(
                ScanTarget.digest,
                Finding.advisory_id,
                Finding.package,
                Finding.version,
                Finding.fixed_version,
                Finding.severity,
            )
            .join(ImageFindingGroup, ImageFindingGroup.scan_target_id == ScanTarget.id)
            .join(Finding, Finding.group_id == ImageFindingGroup.group_id)
        )
        activities = await session.execute(
            select(Activity.digest, Activity.kind, Activity.repository, Activity.details)
        )
        return {
            "findings": {digest: (found, n) for digest, found, n in targets.all()},
            "rows": sorted(tuple(r) for r in rows.all()),
            "activities": sorted((a[0], a[1], a[2], json.dumps(a[3])) for a in activities.all()),
        }


async def reset(db: Database) -> None:
    async with db.write() as session:
        await session.execute(update(ScanTarget).values(findings=[], counts={}, matched_at=None))
        for table in (ImageFindingGroup, Finding, FindingGroup, Activity):
            await session.execute(delete(table))


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of 4 images (3 when matched here), written 5 at a time, workers from 8 images on:
    a few dozen images make many parts and many writes."""
    monkeypatch.setattr(rematch_module, "PART", 4)
    monkeypatch.setattr(rematch_module, "OWN_PART", 3)  # a part taken here is split
    monkeypatch.setattr(rematch_module, "WRITE_CHUNK", 5)  # a part written in two
    monkeypatch.setattr(rematch_module, "MIN_FOR_WORKERS", 8)


async def test_workers_store_what_the_process_itself_stores(
    db: Database, tmp_path: Path, small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    await scanned_images(db, tmp_path, 40)
    here = await rematch(db, datetime.now(UTC))
    assert here.images == 40 and here.changed == 40 and sum(here.new_findings.values()) > 100
    expected = await stored(db)
    await reset(db)
    parts: list[int] = []
    submit = rematch_workers.Workers.submit

    def counted(self: rematch_workers.Workers, items: Any) -> Any:
        parts.append(len(items))  # observed only: the part still goes to a worker process
        return submit(self, items)

    monkeypatch.setattr(rematch_workers.Workers, "submit", counted)
    there = await rematch(db, datetime.now(UTC), workers=2)
    # Parts went to the workers (the rest matched here; a part split here may leave 1).
    assert 4 in parts and set(parts) <= {1, 4}
    assert (there.images, there.changed, there.new_findings) == (
        here.images,
        here.changed,
        here.new_findings,
    )
    assert await stored(db) == expected
    # Nothing changed since: the workers find every stored text the same.
    again = await rematch(db, datetime.now(UTC), workers=2)
    assert (again.images, again.changed) == (40, 0)


async def test_a_matcher_returns_each_group_once(db: Database, tmp_path: Path) -> None:
    """A group's rows come with the first part that has it; a later part names it only (the
    writer keeps every group of the re-match)."""
    await scanned_images(db, tmp_path, 12)
    items = await rematch_module._items(db)
    matcher = Matcher(compressed=compresses(db.dialect))
    first, second = [await matcher.part(db, items[:6]), await matcher.part(db, items[6:])]
    assert first.groups and second.groups
    assert not first.groups.keys() & second.groups.keys()
    named = {key for part in (first, second) for o in part.outcomes for key in o.groups}
    assert named == first.groups.keys() | second.groups.keys()
    assert any(key in first.groups for o in second.outcomes for key in o.groups)


async def test_changed_keys_match_the_images_that_have_them_as_a_full_rematch_does(
    db: Database, tmp_path: Path, small_parts: None
) -> None:
    """With changed keys, the images looked up under one are matched, whole (their other
    packages' advisories loaded too, also those of packages met before only in images left
    out), and stored as a re-match of every image stores them; the others are left alone."""
    await scanned_images(db, tmp_path, 40)
    await rematch(db, datetime.now(UTC))
    expected = (await stored(db))["findings"]
    async with db.read() as session:
        lists = dict((await session.execute(select(ScanTarget.digest, ScanTarget.packages))).all())
    counted: dict[str, int] = {}
    for records in lists.values():
        for name in {r["name"] for r in records if r["ecosystem"] == "pypi"}:
            counted[name] = counted.get(name, 0) + 1
    # A package in some images, not in the first few: parts before it leave their images out.
    first = {r["name"] for d in sorted(lists)[:6] for r in lists[d]}
    chosen = next(n for n, c in sorted(counted.items()) if 3 <= c <= 20 and n not in first)
    having = {d for d, records in lists.items() if any(r["name"] == chosen for r in records)}
    for workers in (0, 2):
        await reset(db)
        key = ("PyPI", normalize_name("PyPI", chosen))
        result = await rematch(db, datetime.now(UTC), {key}, workers=workers)
        assert (result.images, result.changed) == (len(having), len(having))
        found = (await stored(db))["findings"]
        assert {d: found[d] for d in having} == {d: expected[d] for d in having}
        assert all(found[d] == ([], {}) for d in found if d not in having)


async def test_a_part_touching_no_changed_key_is_skipped_in_workers(
    db: Database, tmp_path: Path, small_parts: None
) -> None:
    await scanned_images(db, tmp_path, 12)
    first = await rematch(db, datetime.now(UTC), workers=2)
    assert first.changed == 12
    result = await rematch(db, datetime.now(UTC), {("PyPI", "no-such-package")}, workers=2)
    assert (result.images, result.changed) == (0, 0)


async def test_killed_workers_leave_the_rest_to_this_process(
    db: Database, tmp_path: Path, small_parts: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injected: the worker processes are killed as they start (a worker dying cannot
    be brought about otherwise); the re-match matches every part in its own process."""
    await scanned_images(db, tmp_path, 16)
    expected_result = await rematch(db, datetime.now(UTC))
    expected = await stored(db)
    await reset(db)
    start = rematch_workers.Workers.start

    async def start_and_kill(self: rematch_workers.Workers) -> rematch_workers.Workers:
        started = await start(self)
        pool = started._pool
        assert pool is not None
        for process in list(pool._processes.values()):
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
        return started

    monkeypatch.setattr(rematch_workers.Workers, "start", start_and_kill)
    result = await rematch(db, datetime.now(UTC), workers=2)
    assert (result.images, result.changed) == (expected_result.images, expected_result.changed)
    assert await stored(db) == expected


def test_only_a_database_other_processes_can_open_is_shared() -> None:
    assert rematch_workers.can_share("postgresql://portside@127.0.0.1/portside")
    assert rematch_workers.can_share("sqlite:////var/lib/portside/portside.db")
    assert not rematch_workers.can_share("sqlite://")
    assert not rematch_workers.can_share("sqlite:///:memory:")
    assert not rematch_workers.can_share("sqlite:///file:x?mode=memory&uri=true")


async def test_damaged_package_lists_leave_their_image_and_the_rest_matched(
    db: Database, tmp_path: Path, small_parts: None
) -> None:
    """Stored package lists damaged by hand: records that are not objects or have fields of
    the wrong type (read past), and, on SQLite (PostgreSQL refuses it), text that is not JSON
    (that image is left as it was). Every other image is matched, in workers too."""
    await scanned_images(db, tmp_path, 12)
    kept = [{"id": "OLD-1", "package": "x", "version": "1", "severity": "Low"}]
    async with db.write() as session:
        await session.execute(
            update(ScanTarget)
            .where(ScanTarget.digest == f"sha256:{0:064x}")
            .values(packages=[1, "x", {"name": 5, "version": [], "ecosystem": "npm"}])
        )
        if db.dialect == "sqlite":
            await session.execute(
                update(ScanTarget)
                .where(ScanTarget.digest == f"sha256:{1:064x}")
                .values(findings=kept)
            )
            await session.execute(
                text("UPDATE scan_targets SET packages = '{not json' WHERE digest = :d"),
                {"d": f"sha256:{1:064x}"},
            )
    result = await rematch(db, datetime.now(UTC), workers=2)
    unreadable = 1 if db.dialect == "sqlite" else 0
    assert result.images == 12 - unreadable
    assert result.changed == 11 - unreadable  # the damaged list has nothing to match
    findings = (await stored(db))["findings"]
    if unreadable:
        assert findings[f"sha256:{1:064x}"][0] == kept
    assert findings[f"sha256:{0:064x}"][0] == []
