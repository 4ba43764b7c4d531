"""The garbage collector against the real registry: what goes, what stays, per repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from portside.db.engine import Database
from portside.db.models import Tag
from portside.gc.task import GcTask
from portside.index import store
from portside.registry.client import RegistryClient
from portside.settings import GcTaskSettings, RegistrySettings
from portside.sync.one_pass import SyncOptions, SyncRun
from tests.support.populate import Pusher, make_image
from tests.support.registry import running_registry

pytestmark = pytest.mark.registry
NOW = datetime.now(UTC)


async def test_gc_deletes_old_unused_tags_in_the_registry(db: Database, tmp_path: Path) -> None:
    with running_registry(tmp_path / "registry") as registry:
        async with Pusher(registry.url) as pusher:
            for n in range(4):
                await pusher.push("ns/app", f"v{n}", make_image(f"app{n}"))
            shared = make_image("shared")
            await pusher.push("ns/app", "latest", shared)
            await pusher.push("ns/app", "snapshot", shared)
            await pusher.push("ns/other", "only", make_image("other"))
        settings = RegistrySettings(url=registry.url)
        async with RegistryClient(settings) as client:
            await SyncRun(db, client, SyncOptions()).run()
            async with db.write() as session:
                # Ages: v0 newest ... v3 oldest; all old; latest pulled yesterday.
                for n in range(4):
                    await session.execute(
                        update(Tag)
                        .where(Tag.name == f"v{n}")
                        .values(pushed_at=NOW - timedelta(days=100 + n))
                    )
                await session.execute(
                    update(Tag)
                    .where(Tag.name.in_(["latest", "snapshot", "only"]))
                    .values(pushed_at=NOW - timedelta(days=300))
                )
                await session.execute(
                    update(Tag)
                    .where(Tag.name == "latest")
                    .values(pulled_at=NOW - timedelta(days=1))
                )
            task = GcTask(db, client, GcTaskSettings(enabled=True, older_than=30, keep_latest=2))
            run = await task.run_once()
            # keep_latest=2 is per repository: v0 and v1 are ns/app's newest, and ns/other's
            # only tag is kept however old it is. latest was pulled yesterday, so its digest
            # (shared with snapshot) stays too.
            assert sorted(run.details["tags"]) == ["ns/app:v2", "ns/app:v3"]
            remaining = await client.tags("ns/app")
        async with db.read() as session:
            exported = await store.export(session)
    index = {r["name"]: sorted(t["name"] for t in r["tags"]) for r in exported["repositories"]}
    assert index == {"ns/app": ["latest", "snapshot", "v0", "v1"], "ns/other": ["only"]}
    assert sorted(remaining) == index["ns/app"]  # the registry agrees
