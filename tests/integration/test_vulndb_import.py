"""`vulndb import` of a folder with bad records among good ones, on both databases: an id
that appears twice, a NUL character, a field the database refuses. Every good record is
imported and every bad one reported; the import never aborts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from portside.db.engine import Database
from portside.db.models import Advisory as AdvisoryRow
from portside.security.scanning import advisory_store

# The real OSV records shared beside the repository (never copied into it).
REPO = Path(__file__).resolve().parents[2]
REAL_OSV = next(
    (
        p
        for p in (REPO.parent / "shared/realosv/osv", REPO.parents[1] / "shared/realosv/osv")
        if p.is_dir()
    ),
    None,
)


def record(advisory_id: str, package: str = "bash", **extra: Any) -> dict[str, Any]:
    """A hand-written OSV record (not a real advisory)."""
    return {
        "id": advisory_id,
        "modified": "2026-01-01T00:00:00Z",
        "summary": f"hand-written {advisory_id}",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9"}]}],
            }
        ],
        **extra,
    }


def write(folder: Path, name: str, content: Any) -> None:
    (folder / name).write_text(json.dumps(content))


async def stored_ids(db: Database) -> list[str]:
    async with db.read() as session:
        return sorted((await session.scalars(select(AdvisoryRow.id))).all())


async def test_duplicates_and_nul_records_are_reported_the_rest_imported(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(advisory_store, "BATCH", 3)  # duplicates within a batch and across batches
    folder = tmp_path / "osv"
    folder.mkdir()
    write(folder, "a-1.json", record("HW-1"))
    write(folder, "a-2.json", record("HW-1", summary="the same id again"))
    write(folder, "b.json", record("HW-2", summary="a NUL \u0000 inside"))
    write(folder, "c.json", record("HW-3", package="bad\u0000name"))
    write(folder, "d.json", [record("HW-4"), record("HW-5"), record("HW-4")])
    for n in range(6, 12):
        write(folder, f"e-{n:02}.json", record(f"HW-{n}"))
    write(folder, "f.json", record("HW-6"))  # a batch later than its first
    write(folder, "g.json", record("HW-" + "9" * 300))
    result = await advisory_store.import_path(db, folder, datetime.now(UTC))

    assert await stored_ids(db) == sorted(
        ["HW-1", "HW-4", "HW-5"] + [f"HW-{n}" for n in range(6, 12)]
    )
    assert result.records == 9
    problems = "\n".join(result.problems)
    assert len(result.problems) == 6, problems
    assert (
        f"{folder / 'a-2.json'}: id HW-1 appears again (first in {folder / 'a-1.json'})" in problems
    )
    assert f"{folder / 'd.json'}[2]: id HW-4 appears again" in problems
    assert f"{folder / 'f.json'}: id HW-6 appears again" in problems
    assert f"{folder / 'b.json'}: a NUL character" in problems
    assert f"{folder / 'c.json'}: a NUL character" in problems
    assert f"{folder / 'g.json'}: an id over 255 characters" in problems
    async with db.read() as session:
        summary = await session.scalar(select(AdvisoryRow.summary).where(AdvisoryRow.id == "HW-1"))
    assert summary == "hand-written HW-1"  # the first one wins


async def test_a_record_the_database_refuses_is_reported_alone(
    db: Database, tmp_path: Path
) -> None:
    """A package name over the column's 512 characters: PostgreSQL refuses the row (SQLite
    keeps it); the batch is retried record by record, so only that record is left out."""
    folder = tmp_path / "osv"
    folder.mkdir()
    for n in range(5):
        write(folder, f"ok-{n}.json", record(f"OK-{n}"))
    write(folder, "long.json", record("LONG-1", package="p" * 600))
    result = await advisory_store.import_path(db, folder, datetime.now(UTC))
    ids = await stored_ids(db)
    assert [i for i in ids if i.startswith("OK-")] == [f"OK-{n}" for n in range(5)]
    if db.dialect == "postgresql":
        assert "LONG-1" not in ids
        (problem,) = result.problems
        assert problem.startswith(f"{folder / 'long.json'}: refused by the database: ")
        assert "INSERT" not in problem  # the driver's reason, not the statement
    else:
        assert "LONG-1" in ids
        assert result.problems == []


@pytest.mark.skipif(REAL_OSV is None, reason="shared/realosv/osv is not beside the repository")
async def test_real_records_with_a_duplicate_and_a_nul_among_them(
    db: Database, tmp_path: Path
) -> None:
    """The real records, read where they are (linked, not copied), plus two hand-written bad
    ones: every real record is imported."""
    assert REAL_OSV is not None
    folder = tmp_path / "osv"
    folder.mkdir()
    real = sorted(REAL_OSV.glob("*.json"))
    for file in real:
        (folder / file.name).symlink_to(file)
    first = json.loads(real[0].read_text())
    write(folder, "zz-duplicate.json", {**first, "summary": "hand-written copy"})
    write(folder, "zz-nul.json", record("HW-NUL", summary="\u0000"))
    result = await advisory_store.import_path(db, folder, datetime.now(UTC))
    async with db.read() as session:
        count = await session.scalar(select(func.count()).select_from(AdvisoryRow))
    real_ids = {json.loads(f.read_text())["id"] for f in real}
    assert count == len(real_ids)
    assert len(result.problems) == 2 + (len(real) - len(real_ids)), result.problems
