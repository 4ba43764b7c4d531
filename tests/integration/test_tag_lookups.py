"""The events task's tag lookups use indexes (issue 10, item 8): per-event work must not
depend on a repository's size. SQLite's planner is asked directly; PostgreSQL has the same
indexes (the migrations and the models agree: test_storage)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support import databases


@pytest.mark.parametrize(
    ("condition", "search"),
    [
        ("name IN ('t1', 't2')", "(repository_id=? AND name=?)"),
        ("digest IN ('sha256:x')", "(repository_id=? AND digest=?)"),
    ],
)
def test_tags_of_a_repository_are_found_by_index(
    sqlite_template: Path, tmp_path: Path, condition: str, search: str
) -> None:
    url = databases.sqlite_clone(sqlite_template, tmp_path)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.execute(
                    text(
                        f"EXPLAIN QUERY PLAN SELECT * FROM tags WHERE repository_id IN (1) AND {condition}"
                    )
                )
            )
    finally:
        engine.dispose()
    assert "USING INDEX" in plan and search in plan, plan
