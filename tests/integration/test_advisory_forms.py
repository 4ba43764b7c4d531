"""The matcher's index loaded from the forms stored at import (migration 0016) is the index of
the records themselves, on both databases: after an import, with a form missing or damaged
(that record is parsed instead), and after the migration fills the forms of records stored
before it. Records: the real OSV records in ../shared/realosv/osv and the distribution records
under tests/data/osv."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text, update

from portside.db import migrate
from portside.db.engine import Database
from portside.db.models import Advisory as AdvisoryRow
from portside.db.models import AdvisoryPackage
from portside.security.advisories.index import AdvisoryIndex, build_index
from portside.security.advisories.osv import parse_advisory
from portside.security.scanning import advisory_store
from tests.support.realosv import real_osv

DATA = Path(__file__).resolve().parents[1] / "data" / "osv"


def files() -> list[Path]:
    """Each record once (a few of tests/data/osv are real records too: those are kept)."""
    named = {f.name: f for f in sorted(real_osv().glob("*.json"))}
    named.update((f.name, f) for f in sorted(DATA.glob("*.json")))
    return sorted(named.values())


def by_id(index: AdvisoryIndex) -> dict[tuple[str, str], list[Any]]:
    """Each key's entries in id order (the records' index keeps the order it read them in)."""
    return {
        key: sorted(((e.advisory, e.affected) for e in entries), key=lambda p: p[0].id)
        for key, entries in index.entries.items()
    }


async def imported(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    for file in files():
        shutil.copy(file, folder / file.name)
    result = await advisory_store.import_path(db, folder, datetime.now(UTC))
    assert result.records == len(files()) and not result.problems


async def keys(db: Database) -> set[tuple[str, str]]:
    async with db.read() as session:
        rows = await session.execute(select(AdvisoryPackage.ecosystem, AdvisoryPackage.name))
        return {(e, n) for e, n in rows.all()}


async def assert_loads_as_the_records(db: Database) -> None:
    records = [parse_advisory(json.loads(f.read_text())).advisory for f in files()]
    expected = build_index(records)
    wanted = await keys(db)
    async with db.read() as session:
        index, details = await advisory_store.load_index_and_details(session, wanted)
    assert by_id(index) == by_id(expected)
    assert index.advisories == expected.advisories
    live = {a.id: (a.summary or None, list(a.references[:10])) for a in records}
    assert details == {i: live[i] for i in details}
    assert set(details) == {e.advisory.id for es in index.entries.values() for e in es}


async def test_the_stored_forms_load_as_the_records(db: Database, tmp_path: Path) -> None:
    await imported(db, tmp_path)
    async with db.read() as session:
        missing = await session.scalar(
            select(AdvisoryPackage.id).where(AdvisoryPackage.affected.is_(None))
        )
    assert missing is None
    await assert_loads_as_the_records(db)


async def test_a_missing_or_damaged_form_is_read_from_the_record(
    db: Database, tmp_path: Path
) -> None:
    await imported(db, tmp_path)
    async with db.write() as session:
        rows = (await session.execute(select(AdvisoryPackage.advisory_id).limit(3))).scalars()
        first, second, third = rows.all()
        await session.execute(
            update(AdvisoryPackage)
            .where(AdvisoryPackage.advisory_id == first)
            .values(affected=None)
        )
        await session.execute(
            update(AdvisoryPackage)
            .where(AdvisoryPackage.advisory_id == second)
            .values(affected=[{"ranges": "not a list"}])
        )
        await session.execute(
            update(AdvisoryRow).where(AdvisoryRow.id == third).values(brief={"aliases": 3})
        )
    await assert_loads_as_the_records(db)


async def test_the_migration_fills_the_forms_of_records_stored_before_it(
    db: Database, tmp_path: Path
) -> None:
    await imported(db, tmp_path)

    def down_to_0015(connection: Any) -> None:
        from alembic import command

        command.downgrade(migrate.alembic_config(connection), "0015")

    async with db.engine.begin() as conn:
        await conn.run_sync(down_to_0015)
        # A record no parser reads (no id): left without forms, the rest filled.
        await conn.execute(
            text(
                "INSERT INTO advisories (id, modified, withdrawn, severity, data, imported_at) "
                "VALUES ('BROKEN-1', NULL, false, 'Unknown', '[1]', '2026-01-01 00:00:00')"
            )
        )
    await migrate.upgrade(db)
    async with db.read() as session:
        unfilled = (
            await session.scalars(select(AdvisoryRow.id).where(AdvisoryRow.brief.is_(None)))
        ).all()
        empty = await session.scalar(
            select(AdvisoryPackage.id).where(AdvisoryPackage.affected.is_(None))
        )
    assert unfilled == ["BROKEN-1"] and empty is None
    await assert_loads_as_the_records(db)
