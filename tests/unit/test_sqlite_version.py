"""Portside's SQLite needs: RETURNING and ``AS MATERIALIZED`` came with SQLite 3.35.0. An
older library is refused when the database opens, with what to do, not with a syntax error
in the middle of a re-match or a hub search."""

from __future__ import annotations

import sqlite3

import pytest

from portside.db import engine
from portside.db.engine import Database, sqlite_too_old
from portside.errors import StorageError


def test_versions_from_3_35_are_enough() -> None:
    assert sqlite_too_old((3, 35, 0)) is None
    assert sqlite_too_old((3, 40, 1)) is None
    assert sqlite_too_old((4, 0, 0)) is None
    said = sqlite_too_old((3, 34, 1))
    assert said is not None and "3.34.1" in said and "3.35.0" in said and "PostgreSQL" in said


def test_this_machines_library_is_enough() -> None:
    assert sqlite_too_old(sqlite3.sqlite_version_info) is None


async def test_an_old_library_is_refused_when_the_database_opens(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # A fake version: the real library here is new enough (the test above).
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    db = Database(f"sqlite:///{tmp_path}/portside.db")
    with pytest.raises(StorageError, match="3.31.1"):
        await db.open()
    assert engine.SQLITE_NEEDED == (3, 35, 0)
