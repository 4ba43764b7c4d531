"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import zstandard
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


def encode(value: Any) -> bytes:
    """A value as JSON, as Portside stores it (orjson: several times faster than ``json`` at
    the re-match's sizes, ``bench/rematch.py``); what orjson refuses (a dict key that is not a
    string, an integer past 64 bits) as ``json`` writes it."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def encode_text(value: Any) -> str:
    """:func:`encode` as text: how the engines write JSON columns (``json_serializer``)."""
    return encode(value).decode()


def decode(data: bytes | str) -> Any:
    """A JSON document (what :func:`encode` or ``json.dumps`` wrote); :class:`ValueError` when
    it is not JSON. The ``NaN`` and ``Infinity`` that ``json`` writes, and orjson refuses, read
    as ``json`` reads them."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def compress(data: bytes) -> bytes:
    """JSON (:func:`encode`) as :class:`CompressedJSON` stores it on SQLite: a zstd frame."""
    return zstandard.compress(data, ZSTD_LEVEL)


def json_of(stored: bytes | str) -> bytes | str:
    """The JSON of what :class:`CompressedJSON` stored on SQLite: a zstd frame, zlib-deflated
    JSON (rows written by migration 0017 and the code of its time) or JSON text (rows from
    before it); :class:`ValueError` when it is none of these."""
    if isinstance(stored, str):
        return stored
    try:
        if stored[:4] == _ZSTD_MAGIC:
            return zstandard.decompress(stored)
        return zlib.decompress(stored)
    except (zstandard.ZstdError, zlib.error) as exc:
        raise ValueError(f"not a stored JSON document: {exc}") from None


def value_of(stored: bytes | str) -> Any:
    """The value of what :class:`CompressedJSON` stored on SQLite (:func:`json_of`)."""
    return decode(json_of(stored))


ZSTD_LEVEL = 1  # a re-match's findings: 18x smaller, 1.3 ms per MB (bench/rematch.py)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compresses(dialect: str) -> bool:
    """Whether :class:`CompressedJSON` stores compressed JSON on this dialect (a
    ``dialect.name``)."""
    return dialect == "sqlite"


def as_stored(dialect: str, column: Any) -> Any:
    """A JSON column selected as stored, not decoded: its JSON text or, for a
    :class:`CompressedJSON` column on SQLite, the bytes (or text, rows from before) it stored."""
    if compresses(dialect):
        return type_coerce(column, _AsStored())
    return cast(column, Text)


class _AsStored(TypeDecorator[Any]):
    """A column's value as the driver gives it (bytes or text), not decoded."""

    impl = LargeBinary
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


class CompressedJSON(TypeDecorator[Any]):
    """A JSON column whose documents are large and repetitive (an image's findings repeat each
    advisory's text for every package it affects): compressed on SQLite, which keeps every byte
    as given; plain JSON on PostgreSQL, whose TOAST already compresses large values.

    On SQLite a value is stored as zstd-compressed JSON (:func:`compress`); rows stored
    zlib-compressed or as text before are read as well (:func:`value_of`). A SQL reader of such
    a column on SQLite sees a blob: only Portside reads it."""

    impl = JSON  # declared JSON on both (SQLite keeps any value in any column)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if not compresses(dialect.name):
            return super().bind_processor(dialect)

        def process(value: Any) -> bytes | None:
            return None if value is None else compress(encode(value))

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if not compresses(dialect.name):
            return super().result_processor(dialect, coltype)

        def process(value: bytes | str | None) -> Any:
            return None if value is None else value_of(value)

        return process


class EncodedJSON(TypeDecorator[str]):
    """A value for a JSON column, given in the form the column stores: its JSON text
    (:func:`encode_text`), or :func:`compress` of its JSON for a :class:`CompressedJSON` column
    on SQLite.

    For a writer that has the stored form at hand (the re-match makes it to compare with what
    is stored): the value is bound as it is, where the column's own type would encode it
    again. Only for binding; reading the column gives the decoded value as usual.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return None
