"""Registry synchronization against the real registry (notifications off: only the sync can
find the images), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select

from portside.db.engine import Database
from portside.db.models import Activity, Tag
from portside.events import queue
from portside.events.envelope import IncomingEvent
from portside.events.processor import EventProcessor
from portside.index import store
from portside.registry.client import RegistryClient
from portside.registry.local import LocalRegistry
from portside.settings import RegistrySettings, Settings, SyncStrategy
from portside.sync import describe
from portside.sync.one_pass import Progress, SyncOptions, SyncReport, SyncRun
from portside.sync.reconcile import Observed, RepositoryPlan
from portside.sync.task import SyncTask, options_for
from tests.integration.conftest import make_settings
from tests.support.faultproxy import FaultProxy
from tests.support.net import free_port
from tests.support.populate import Pusher, make_image
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry

# Several hundred repositories across nested namespaces, two tags each.
REPOSITORIES = (
    [f"team{t}/svc{s}" for t in range(10) for s in range(20)]
    + [f"a/b/c{n}" for n in range(60)]
    + [f"solo{n}" for n in range(40)]
)


@dataclass
class World:
    registry: LocalRegistry
    db: Database
    settings: Settings
    digests: dict[tuple[str, str], str]

    async def index(self) -> dict[tuple[str, str], str]:
        async with self.db.read() as session:
            exported = await store.export(session)
        return {
            (r["name"], t["name"]): t["digest"] for r in exported["repositories"] for t in r["tags"]
        }

    async def sync(self, registry_url: str | None = None, **options: Any) -> SyncReport:
        registry = RegistrySettings(url=registry_url or self.registry.url, catalog_page=50)
        progress = options.pop("progress", None)
        base = options_for(SyncStrategy.UPDATE_DELETE, self.settings.background.sync, registry)
        for key, value in options.items():
            setattr(base, key, value)
        async with RegistryClient(registry) as client:
            return await SyncRun(self.db, client, base, progress=progress).run()

    async def activities(self) -> int:
        async with self.db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(Activity)) or 0)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[tuple[str, str], str]]:
    """A registry's storage filled once per module; each test runs a registry on a copy."""
    root = tmp_path_factory.mktemp("populated")
    digests: dict[tuple[str, str], str] = {}

    async def fill(url: str) -> None:
        async with Pusher(url) as pusher:

            async def one(repository: str) -> None:
                for tag in ("1.0", "latest"):
                    image = make_image(f"{repository}:{tag}" if tag == "1.0" else repository)
                    digests[(repository, tag)] = await pusher.push(repository, tag, image)

            await asyncio.gather(*(one(r) for r in REPOSITORIES))

    with running_registry(root) as registry:
        asyncio.run(fill(registry.url))
    return root / "data", digests


@pytest.fixture
async def world(
    db: Database,
    database_url: str,
    tmp_path: Path,
    populated: tuple[Path, dict[tuple[str, str], str]],
) -> AsyncIterator[World]:
    storage, digests = populated
    shutil.copytree(storage, tmp_path / "registry" / "data")
    with running_registry(tmp_path / "registry") as registry:
        yield World(registry, db, make_settings(database_url), dict(digests))


async def test_a_first_sync_fills_the_index_and_a_second_writes_nothing(world: World) -> None:
    report = await world.sync()
    summary = report.summary
    assert summary.catalog_complete
    assert (summary.repositories, summary.tags, summary.added) == (300, 600, 600)
    assert summary.errors == []
    assert await world.index() == world.digests
    # The walk is the minimum: catalog pages, tag lists, HEADs; GETs only for new digests.
    walk = 300 // 50 + 1 + 300 + 600  # the last catalog page may or may not carry a Link
    assert report.requests <= walk + 2 * 600

    async with world.db.read() as session:
        before = {t.id: t.updated_at for t in (await session.scalars(select(Tag))).all()}
    activities = await world.activities()
    again = await world.sync()
    assert (again.summary.added, again.summary.moved, again.summary.removed_tags) == (0, 0, 0)
    assert walk - 1 <= again.requests <= walk  # nothing new to describe
    assert await world.activities() == activities
    async with world.db.read() as session:
        after = {t.id: t.updated_at for t in (await session.scalars(select(Tag))).all()}
    assert after == before


async def test_new_images_are_described_after_the_walk(world: World) -> None:
    report = await world.sync()
    assert report.describe is not None
    assert report.describe.images == 600
    assert report.describe.requests == 600  # one config blob each; the manifest was read
    assert report.index_duration <= report.duration
    async with world.db.read() as session:
        tags = (await session.scalars(select(Tag))).all()
    assert all(t.described for t in tags)
    tag = next(t for t in tags if t.digest == world.digests[("a/b/c1", "1.0")])
    assert tag.platforms == [
        {
            "os": "linux",
            "architecture": "amd64",
            "variant": None,
            "digest": tag.digest,
            "size": tag.size,
        }
    ]
    assert tag.image_created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert tag.size and tag.config_digest


async def test_an_image_whose_config_fails_is_indexed_and_described_next_time(
    world: World,
) -> None:
    def configs_fail(request: web.Request) -> int | None:
        return 500 if request.path.startswith("/v2/team6/svc6/blobs/") else None

    proxy = FaultProxy(world.registry.url, configs_fail)
    await proxy.start(free_port())
    try:
        report = await world.sync(proxy.url)
    finally:
        await proxy.stop()
    assert report.describe is not None and report.describe.images == 598
    assert any("describing team6/svc6@" in e for e in report.summary.errors)
    assert await world.index() == world.digests  # the index is complete all the same
    async with world.db.read() as session:
        undescribed = (await session.scalars(select(Tag).where(Tag.described.is_(False)))).all()
    assert sorted((t.digest, t.platforms, t.image_created_at) for t in undescribed) == sorted(
        (world.digests[("team6/svc6", tag)], [], None) for tag in ("1.0", "latest")
    )
    assert all(t.size and t.media_type for t in undescribed)  # from the manifest

    again = await world.sync()
    assert again.describe is not None and again.describe.images == 2
    assert again.summary.errors == []
    async with world.db.read() as session:
        left = await session.scalar(select(func.count()).where(Tag.described.is_(False)))
    assert left == 0


async def test_describing_leaves_a_row_that_moved_to_another_digest(world: World) -> None:
    def configs_fail(request: web.Request) -> int | None:
        return 500 if "/blobs/" in request.path else None

    proxy = FaultProxy(world.registry.url, configs_fail)
    await proxy.start(free_port())
    try:
        await world.sync(proxy.url)
    finally:
        await proxy.stop()
    old = world.digests[("solo2", "1.0")]
    async with world.db.write() as session:  # as an event would, between read and write
        tag = await session.scalar(select(Tag).where(Tag.digest == old))
        assert tag is not None and not tag.described
        tag_id, old_image = tag.id, store.image_of(tag)
        tag.digest = "sha256:" + "e" * 64
    described = replace(old_image, platforms=[{"os": "linux"}], described=True)
    await describe._write(world.db, [described], {old: [tag_id]})
    async with world.db.read() as session:
        tag = await session.get(Tag, tag_id)
        assert tag is not None
        assert (tag.digest, tag.platforms, tag.described) == ("sha256:" + "e" * 64, [], False)


async def test_changes_between_runs_are_applied(world: World) -> None:
    await world.sync()
    async with Pusher(world.registry.url) as pusher:
        moved = await pusher.push("team1/svc1", "latest", make_image("moved"))
        added = await pusher.push("brand/new", "0.1", make_image("new"))
        await pusher.delete("team2/svc2", world.digests[("team2/svc2", "1.0")])
        await pusher.delete("solo1", world.digests[("solo1", "1.0")])
        await pusher.delete("solo1", world.digests[("solo1", "latest")])
    report = await world.sync()
    assert (report.summary.added, report.summary.moved) == (1, 1)
    assert report.summary.removed_tags == 3
    assert report.summary.removed_repositories == 1  # solo1: listed, but with no tags
    expected = dict(world.digests)
    expected[("team1/svc1", "latest")] = moved
    expected[("brand/new", "0.1")] = added
    del expected[("team2/svc2", "1.0")]
    del expected[("solo1", "1.0")], expected[("solo1", "latest")]
    assert await world.index() == expected
    async with world.db.read() as session:
        kinds = {
            (a.kind, a.repository, a.tag)
            for a in (
                await session.scalars(select(Activity).where(Activity.actor == "portside-sync"))
            ).all()
            if a.repository in ("team1/svc1", "brand/new", "team2/svc2", "solo1")
        }
    assert ("tag.delete", "team2/svc2", "1.0") in kinds
    assert ("repository.delete", "solo1", None) in kinds
    assert ("repository.create", "brand/new", None) in kinds


async def test_the_update_strategy_never_deletes(world: World) -> None:
    await world.sync()
    async with Pusher(world.registry.url) as pusher:
        await pusher.delete("team3/svc3", world.digests[("team3/svc3", "1.0")])
    report = await world.sync(deletes=False)
    assert report.summary.removed_tags == 0
    assert report.summary.deletions == "the strategy never deletes"
    assert await world.index() == world.digests


async def test_one_repository_answering_500_is_unknown_not_gone(world: World) -> None:
    await world.sync()
    async with Pusher(world.registry.url) as pusher:  # both tags of team4/svc4 really change
        await pusher.delete("team4/svc4", world.digests[("team4/svc4", "1.0")])
        await pusher.delete("team5/svc5", world.digests[("team5/svc5", "1.0")])
    proxy = FaultProxy(world.registry.url, lambda r: 500 if "/team4/svc4/" in r.path else None)
    await proxy.start(free_port())
    try:
        report = await world.sync(proxy.url)
    finally:
        await proxy.stop()
    assert report.summary.unknown_repositories == 1
    assert any("team4/svc4" in e for e in report.summary.errors)
    index = await world.index()
    assert ("team4/svc4", "1.0") in index  # unknown: kept
    assert ("team5/svc5", "1.0") not in index  # the rest of the walk went on


async def test_a_catalog_that_breaks_part_way_deletes_nothing(world: World) -> None:
    await world.sync()
    async with Pusher(world.registry.url) as pusher:  # on the catalog's first page
        await pusher.delete("a/b/c1", world.digests[("a/b/c1", "1.0")])
    pages = {"n": 0}

    def second_page_fails(request: web.Request) -> int | None:
        if request.path == "/v2/_catalog":
            pages["n"] += 1
            return 500 if pages["n"] >= 2 else None
        return None

    proxy = FaultProxy(world.registry.url, second_page_fails)
    await proxy.start(free_port())
    try:
        report = await world.sync(proxy.url)
    finally:
        await proxy.stop()
    assert not report.summary.catalog_complete
    assert report.summary.removed_tags == 0
    assert "did not complete" in report.summary.deletions
    assert await world.index() == world.digests


async def test_the_registry_stopping_mid_walk_deletes_nothing(world: World) -> None:
    await world.sync()
    for repository in REPOSITORIES[:100]:  # tags the sync would delete if it trusted the walk
        async with Pusher(world.registry.url) as pusher:
            await pusher.delete(repository, world.digests[(repository, "1.0")])
            break
    seen = {"n": 0}

    async def stop_after_a_few(observed: Observed, plan: RepositoryPlan) -> None:
        seen["n"] += 1
        if seen["n"] == 20:
            await asyncio.to_thread(world.registry.stop)

    report = await world.sync(progress=Progress(repository_done=stop_after_a_few))
    assert report.summary.errors
    assert report.summary.removed_tags == 0
    assert report.summary.removed_repositories == 0
    assert await world.index() == world.digests
    world.registry.start()


async def test_a_tag_an_event_changed_during_the_walk_is_left_alone(world: World) -> None:
    await world.sync()
    repository = "team7/svc7"
    # The registry loses the tag (its delete event lost), then, while the next walk runs,
    # the tag is pushed again and its event is processed.
    async with Pusher(world.registry.url) as pusher:
        await pusher.delete(repository, world.digests[(repository, "1.0")])
    now = datetime.now(UTC)

    async def push_during_walk(observed: Observed, plan: RepositoryPlan) -> None:
        if observed.name != repository:
            return
        assert "1.0" in {r.tag for r in plan.removals}  # the walk saw it gone...
        async with Pusher(world.registry.url) as pusher:
            digest = await pusher.push(repository, "1.0", make_image(f"{repository}:1.0"))
        event = IncomingEvent(
            event_id="pushed-during-walk",
            action="push",
            repository=repository,
            tag="1.0",
            digest=digest,
            media_type="application/vnd.oci.image.manifest.v1+json",
            actor="alice",
            user_agent="skopeo",
            occurred_at=datetime.now(UTC),
            data={},
        )
        async with world.db.write() as session:
            await queue.insert_events(session, [queue.event_row(event, datetime.now(UTC))])
        async with RegistryClient(RegistrySettings(url=world.registry.url)) as client:
            processor = EventProcessor(
                world.db, client, world.settings.background.events, worker="w"
            )
            assert (await processor.run_batch()).done == 1

    report = await world.sync(progress=Progress(repository_done=push_during_walk))
    assert report.started_at is not None
    assert report.started_at >= now
    assert (repository, "1.0") in await world.index()  # ...but the event's tag stays
    assert report.summary.left_to_events >= 1


async def test_a_mass_deletion_is_held_back(world: World) -> None:
    await world.sync()
    async with Pusher(world.registry.url) as pusher:
        await asyncio.gather(
            *(
                pusher.delete(r, world.digests[(r, t)])
                for r in REPOSITORIES[:200]
                for t in ("1.0", "latest")
            )
        )
    held = await world.sync()
    assert held.summary.removed_tags == 0
    assert "held back" in held.summary.deletions
    assert len(await world.index()) == 600
    allowed = await world.sync(allow_mass_delete=True)
    assert allowed.summary.removed_tags == 400
    assert len(await world.index()) == 200


async def test_dry_run_applies_nothing(world: World) -> None:
    report = await world.sync(dry_run=True)
    assert report.summary.added == 600
    assert sum(len(p.upserts) for p in report.plans) == 600
    assert await world.index() == {}


async def test_strategies_on_start_and_initial_run_once(world: World) -> None:
    async with RegistryClient(RegistrySettings(url=world.registry.url)) as client:
        for strategy in (SyncStrategy.INITIAL, SyncStrategy.ON_START, SyncStrategy.INITIAL):
            settings = world.settings.background.sync.model_copy(update={"strategy": strategy})
            task = SyncTask(
                world.db, client, settings, RegistrySettings(url=world.registry.url), worker="w"
            )
            run = await task.run_once()
            assert run.finished
            if strategy is SyncStrategy.ON_START:
                assert run.details["added"] == 0  # the first (initial) run filled the index
    # The last `initial` found a non-empty index and did nothing.
    assert run.details == {"skipped": "the index is not empty"}
    assert await world.index() == world.digests


async def test_a_capped_catalog_page_falls_back(
    tmp_path: Path, db: Database, database_url: str
) -> None:
    with running_registry(tmp_path / "capped", catalog_max_entries=100) as registry:
        async with Pusher(registry.url) as pusher:
            await asyncio.gather(
                *(pusher.push(f"p/r{n}", "1", make_image(str(n))) for n in range(150))
            )
        options = SyncOptions(page_size=1000)
        async with RegistryClient(RegistrySettings(url=registry.url)) as client:
            report = await SyncRun(db, client, options).run()
    assert report.summary.catalog_complete
    assert report.summary.added == 150


async def test_a_catalog_capped_at_50_is_walked_in_the_registrys_own_pages(
    tmp_path: Path, db: Database, populated: tuple[Path, dict[tuple[str, str], str]]
) -> None:
    """catalog.maxentries 50 refuses n=1000 and n=100 alike: the sync asks without n and
    follows the registry's Link pages of 50."""
    storage, digests = populated
    shutil.copytree(storage, tmp_path / "capped" / "data")
    with running_registry(tmp_path / "capped", catalog_max_entries=50) as registry:
        proxy = FaultProxy(registry.url, lambda request: None)
        await proxy.start(free_port())
        try:
            for page_size in (1000, 100):
                settings = RegistrySettings(url=proxy.url, catalog_page=page_size)
                options = SyncOptions(page_size=page_size)
                async with RegistryClient(settings) as client:
                    report = await SyncRun(db, client, options).run()
                assert report.summary.catalog_complete, report.summary.errors
                assert not report.summary.errors
        finally:
            await proxy.stop()
    catalog = [path for _, path in proxy.seen if path.startswith("/v2/_catalog")]
    assert catalog[:2] == ["/v2/_catalog?n=1000", "/v2/_catalog"]
    assert len(catalog) >= 2 * (len(REPOSITORIES) // 50 + 1)
    async with db.read() as session:
        exported = await store.export(session)
    index = {
        (r["name"], t["name"]): t["digest"] for r in exported["repositories"] for t in r["tags"]
    }
    assert index == digests


async def test_a_page_size_refused_part_way_falls_back_too(world: World) -> None:
    """The proxy refuses the second catalog page's n (a registry reconfigured mid-walk, or a
    proxy in front of it with its own cap): a fault the registry cannot produce on demand."""
    requests = {"n": 0}

    def second_page_refused(request: web.Request) -> int | None:
        if request.path == "/v2/_catalog":
            requests["n"] += 1
            return 400 if requests["n"] == 2 and "n" in request.query else None
        return None

    proxy = FaultProxy(world.registry.url, second_page_refused)
    await proxy.start(free_port())
    try:
        report = await world.sync(proxy.url)
    finally:
        await proxy.stop()
    assert report.summary.catalog_complete, report.summary.errors
    assert not report.summary.errors
    catalog = [path for _, path in proxy.seen if path.startswith("/v2/_catalog")]
    assert catalog[0] == "/v2/_catalog?n=50"
    assert "n=" not in catalog[2] and "last=" in catalog[2]  # the same page, without n
    assert await world.index() == world.digests
