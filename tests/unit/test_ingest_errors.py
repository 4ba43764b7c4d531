"""Which database errors are a row's fault (store the rest without it) and which an outage."""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError

from portside.errors import StorageError
from portside.events.ingest import refused_by_database


class _PgError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrapped(cause: BaseException) -> StorageError:
    try:
        raise StorageError("database write failed") from cause
    except StorageError as exc:
        return exc


def test_values_the_database_refuses_are_the_rows_fault() -> None:
    for cause in (
        DataError("INSERT", {}, Exception("too long")),
        IntegrityError("INSERT", {}, Exception("not null")),
        StatementError("bind", "INSERT", {}, OverflowError("date value out of range")),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        _PgError("22021"),  # character_not_in_repertoire (NUL)
        _PgError("22001"),  # string_data_right_truncation
    ):
        assert refused_by_database(wrapped(cause)), cause


def test_an_outage_is_not_a_rows_fault() -> None:
    for cause in (
        OperationalError("INSERT", {}, Exception("database is locked")),
        ConnectionRefusedError(),
        _PgError("08006"),  # connection_failure
        _PgError("57P01"),  # admin_shutdown
    ):
        assert not refused_by_database(wrapped(cause)), cause
