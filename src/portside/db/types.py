"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, LargeBinary, Text, TypeDecorator, cast, type_coerce


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def deflate(text: str) -> bytes:
    """JSON text as :class:`DeflatedJSON` stores it on SQLite."""
    return zlib.compress(text.encode(), DEFLATE_LEVEL)


def inflate(stored: bytes | str) -> Any:
    """The value of what :class:`DeflatedJSON` stored on SQLite: deflated JSON, or JSON text
    (a row written before the column was deflated)."""
    return json.loads(zlib.decompress(stored) if isinstance(stored, bytes) else stored)


DEFLATE_LEVEL = 1  # a re-match's findings: 17x smaller, 3.6 ms per MB (bench/rematch.py)


def deflates(dialect: str) -> bool:
    """Whether :class:`DeflatedJSON` stores deflated JSON on this dialect (a ``dialect.name``)."""
    return dialect == "sqlite"


def as_stored(dialect: str, column: Any) -> Any:
    """A JSON column selected as stored, not decoded: its JSON text or, for a
    :class:`DeflatedJSON` column on SQLite, the bytes (or text, rows from before) it stored."""
    if deflates(dialect):
        return type_coerce(column, _AsStored())
    return cast(column, Text)


class _AsStored(TypeDecorator[Any]):
    """A column's value as the driver gives it (bytes or text), not decoded."""

    impl = LargeBinary
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class DeflatedJSON(TypeDecorator[Any]):
    """A JSON column whose documents are large and repetitive (an image's findings repeat each
    advisory's text for every package it affects): deflated on SQLite, which keeps every byte
    as given; plain JSON on PostgreSQL, whose TOAST already compresses large values.

    On SQLite a value is stored as zlib-compressed JSON (:func:`deflate`); a row stored as text
    before is read as well (:func:`inflate`). A SQL reader of such a column on SQLite sees a
    blob: only Portside reads it."""

    impl = JSON  # declared JSON on both (SQLite keeps any value in any column)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if not deflates(dialect.name):
            return super().bind_processor(dialect)

        def process(value: Any) -> bytes | None:
            return None if value is None else deflate(json.dumps(value))

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if not deflates(dialect.name):
            return super().result_processor(dialect, coltype)

        def process(value: bytes | str | None) -> Any:
            return None if value is None else inflate(value)

        return process


class EncodedJSON(TypeDecorator[str]):
    """A value for a JSON column, given in the form the column stores: the text ``json.dumps``
    would make of it (:func:`deflate` of that text for a :class:`DeflatedJSON` column on
    SQLite).

    For a writer that encodes shared parts once (a re-match writes the same finding into
    hundreds of images): the value is bound as it is, where the column's own type would encode
    it again. Only for binding; reading the column gives the decoded value as usual.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return None
