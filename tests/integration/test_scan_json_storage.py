"""An image's package list and findings as stored (migration 0017): compressed JSON on SQLite,
JSON on PostgreSQL; read back the same either way, by the ORM and by the re-match; rows stored
as text before the migration read as well, and the migration and its downgrade convert them.
Images: packages that real advisories (../shared/realosv/osv) list as affected."""

from __future__ import annotations

import logging
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from portside.db import migrate
from portside.db.engine import Database
from portside.db.models import ScanTarget
from portside.security.scanning.rematch import rematch
from tests.integration.test_rematch_workers import scanned_images, stored


async def storage(db: Database) -> set[str]:
    """How the two columns are stored: SQLite's type of each value (PostgreSQL: 'json')."""
    if db.dialect != "sqlite":
        return {"json"}
    async with db.read() as session:
        rows = await session.execute(
            text("SELECT DISTINCT typeof(packages), typeof(findings) FROM scan_targets")
        )
        return {kind for row in rows.all() for kind in row}


async def to_revision(db: Database, revision: str) -> None:
    def run(connection: Any) -> None:
        from alembic import command

        command.downgrade(migrate.alembic_config(connection), revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)


async def test_findings_and_packages_read_back_as_written(db: Database, tmp_path: Path) -> None:
    await scanned_images(db, tmp_path, 6)
    first = await rematch(db, datetime.now(UTC))
    assert first.changed == 6
    assert await storage(db) == ({"blob"} if db.dialect == "sqlite" else {"json"})
    async with db.read() as session:
        targets = (await session.scalars(select(ScanTarget))).all()
    assert all(t.findings and isinstance(t.findings[0]["id"], str) for t in targets)
    assert all(t.packages and t.packages[0]["ecosystem"] in ("pypi", "npm") for t in targets)
    again = await rematch(db, datetime.now(UTC))
    assert (again.images, again.changed) == (6, 0)  # the stored forms compared equal


async def test_the_migration_converts_rows_stored_before_it_both_ways(
    db: Database, tmp_path: Path
) -> None:
    await scanned_images(db, tmp_path, 6)
    await rematch(db, datetime.now(UTC))
    expected = await stored(db)
    await to_revision(db, "0016")
    assert await storage(db) == ({"text"} if db.dialect == "sqlite" else {"json"})
    # Rows stored as text (as before the migration) are read and compared as well.
    again = await rematch(db, datetime.now(UTC))
    assert (again.images, again.changed) == (6, 0)
    await migrate.upgrade(db)
    assert await storage(db) == ({"blob"} if db.dialect == "sqlite" else {"json"})
    assert await stored(db) == expected
    again = await rematch(db, datetime.now(UTC))
    assert (again.images, again.changed) == (6, 0)


async def test_damaged_stored_forms_leave_the_rest_matched(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Values damaged by hand (SQLite only: PostgreSQL refuses what is not JSON): a findings
    blob that is not compressed JSON is replaced by what is found now; a package list that is not
    compressed JSON leaves its image as it was; the other images are matched."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL's json column refuses what is not JSON")
    await scanned_images(db, tmp_path, 6)
    await rematch(db, datetime.now(UTC))
    expected = (await stored(db))["findings"]
    damaged_findings, damaged_packages = f"sha256:{0:064x}", f"sha256:{1:064x}"
    async with db.write() as session:
        await session.execute(
            update(ScanTarget).values(findings=[], counts={}).where(ScanTarget.digest != "")
        )
        for digest in (damaged_findings, damaged_packages):
            column = "findings" if digest == damaged_findings else "packages"
            await session.execute(
                text(f"UPDATE scan_targets SET {column} = :v WHERE digest = :d"),
                {"v": zlib.compress(b"x")[:-3] + b"\xff\x00", "d": digest},
            )
    with caplog.at_level(logging.WARNING):
        result = await rematch(db, datetime.now(UTC))
    assert (result.images, result.changed) == (5, 5)
    assert "unreadable stored findings" in caplog.text
    assert "unreadable stored packages" in caplog.text
    async with db.read() as session:
        findings = dict(
            (await session.execute(select(ScanTarget.digest, ScanTarget.findings).where(
                ScanTarget.digest != damaged_packages
            ))).all()
        )  # fmt: skip
    assert findings == {d: f for d, (f, _) in expected.items() if d != damaged_packages}
