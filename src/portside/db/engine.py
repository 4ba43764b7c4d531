"""The database connection: one :class:`Database` per process, opened as an async context.

Only this module knows the drivers (aiosqlite, asyncpg). SQLite runs in WAL mode with foreign
keys on; its write transactions start with ``BEGIN IMMEDIATE`` so that a transaction that reads
and then writes never fails half-way with "database is locked".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from portside.db.types import decode, encode_text
from portside.errors import StorageError
from portside.lifecycle import Resource
from portside.private import create_private

log = logging.getLogger(__name__)
T = TypeVar("T")


def async_url(url: str) -> URL:
    """Map the URL a user writes (sqlite:///, postgresql://) to the async driver's URL."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise StorageError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def explain(exc: BaseException, url: str) -> str:
    """One line saying what is wrong with the database at ``url`` and what to do about it.

    The drivers' own errors (a missing database, a refused connection) arrive wrapped in
    SQLAlchemy's, with the statement and a link; an operator needs the cause and the command."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    text = (cause.strerror or str(cause)) if isinstance(cause, OSError) else str(cause)
    text = text.splitlines()[0] if text else ""
    name = type(cause).__name__
    if parsed.get_backend_name() == "postgresql":
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        if name == "InvalidCatalogNameError":
            user = f" -U {parsed.username}" if parsed.username else ""
            return (
                f"database {parsed.database!r} does not exist on {where}: create it with "
                f"`createdb -h {parsed.host or 'localhost'} -p {parsed.port or 5432}{user} "
                f"{parsed.database}`, then run `portside db upgrade`"
            )
        if isinstance(cause, OSError):
            return f"cannot reach PostgreSQL at {where} ({text or name}): is it running?"
        if name in {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
            return f"PostgreSQL at {where} refused the login: check database_url ({text})"
    elif parsed.get_backend_name() == "sqlite" and "unable to open database file" in text:
        return f"cannot open the SQLite file {parsed.database!r}: does its folder exist?"
    return f"database error: {text or name}"


SQLITE_NEEDED = (3, 35, 0)  # RETURNING and MATERIALIZED (the hub's writes and reads)


def sqlite_too_old(version: tuple[int, ...]) -> str | None:
    """Why this SQLite library cannot hold Portside's database (pure); None when it can."""
    if tuple(version[:3]) >= SQLITE_NEEDED:
        return None
    have = ".".join(map(str, version))
    need = ".".join(map(str, SQLITE_NEEDED))
    return (
        f"the SQLite library Python uses is {have}; Portside needs {need} or newer "
        "(Debian 12, Ubuntu 22.04 and Python's own builds have it), or PostgreSQL"
    )


def _create_sqlite_file(url: URL) -> None:
    """A new SQLite database file is created here with mode 0600 (whatever the umask; SQLite
    gives its -wal and -shm files the same mode), not by SQLite with 0644: it holds webhook
    secrets and the whole index. An existing file keeps its mode."""
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:") or url.query.get("mode"):
        return
    # A missing folder was refused by the caller; no permission: SQLite says so when it opens.
    with contextlib.suppress(OSError):
        create_private(Path(name))


SQLITE_CACHE_KIB = 32 * 1024


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # A 32 MiB page cache (the default is 2 MiB): a re-match inserts hundreds of thousands of
    # index entries in random order, and with the default most of its time went to pages
    # evicted and read back (bench/rematch.py).
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("portside_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class WriteLock:
    """SQLite's one writer at a time, queued in the process: a FIFO lock whose *urgent*
    waiters (the webhook's group commit, which a registry waits on) go before the others
    (background tasks), so a webhook batch waits at most for the transaction in progress."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @property
    def locked(self) -> bool:
        return self._held

    @asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._held and not self._urgent and not self._normal:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed the lock as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    (self._urgent if urgent else self._normal).remove(waiter)
            raise

    def _release(self) -> None:
        for waiters in (self._urgent, self._normal):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # handed over: stays held
                    return
        self._held = False


class Database(Resource):
    """An engine and its sessions. ``async with Database(url) as db: ...``"""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10):
        self.url = url
        self._echo = echo
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        # SQLite has one writer at a time: queueing writers here is much cheaper than letting
        # them spin on SQLite's busy handler.
        self._write_lock: WriteLock | None = None
        self._sync_engine: Engine | None = None  # SQLite only: batch writes in one thread hop

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StorageError("the database is not open (use `async with Database(...)`)")
        return self._engine

    @property
    def dialect(self) -> str:
        return async_url(self.url).get_backend_name()

    async def open(self) -> None:
        url = async_url(self.url)
        # JSON columns through orjson (types.encode/decode): the re-match reads and writes
        # megabytes of them.
        json_codec = {"json_serializer": encode_text, "json_deserializer": decode}
        kwargs: dict[str, Any] = {"echo": self._echo, **json_codec}
        if url.get_backend_name() == "postgresql":
            kwargs.update(
                pool_size=self._pool_size, max_overflow=self._pool_size, pool_pre_ping=True
            )
        engine: AsyncEngine
        if url.get_backend_name() == "sqlite":
            import sqlite3

            too_old = sqlite_too_old(sqlite3.sqlite_version_info)
            if too_old is not None:
                raise StorageError(too_old)
            folder = (
                Path(url.database).parent if url.database not in (None, "", ":memory:") else None
            )
            if folder is not None and not folder.is_dir():
                raise StorageError(
                    f"cannot open the SQLite file {url.database!r}: the folder {str(folder)!r} "
                    "does not exist"
                )
            _create_sqlite_file(url)
            kwargs["pool_reset_on_return"] = None  # write() always commits or rolls back
            engine = create_async_engine(url, **kwargs)
            sync_engine = create_engine(
                url.set(drivername="sqlite"), pool_reset_on_return=None, **json_codec
            )
            for target in (engine.sync_engine, sync_engine):
                event.listen(target, "connect", _sqlite_on_connect)
                event.listen(target, "begin", _sqlite_on_begin)
            self._write_lock = WriteLock()
            self._sync_engine = sync_engine
        else:
            engine = create_async_engine(url, **kwargs)
        self._engine = engine

    async def close(self) -> None:
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading; nothing it does is committed."""
        try:
            async with AsyncSession(self.engine, expire_on_commit=False) as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(f"database read failed: {exc}") from exc

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction, committed on success and rolled back on error."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock.hold())
            async with self._write_session() as session:
                yield session

    async def run_write(self, fn: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run ``fn`` on a connection in one write transaction.

        For hot paths (the webhook's batches, the events task's claims and pulls): on SQLite
        ``fn`` runs in a worker thread on the plain sqlite3 driver, its statements and the
        commit in one hand-off instead of one per statement (the write lock is not held across
        turns of a busy event loop); on PostgreSQL it runs on the async engine. ``urgent``
        writers (the webhook) take SQLite's write lock before the waiting others."""
        try:
            if self._sync_engine is None:
                async with self.engine.begin() as conn:
                    return await conn.run_sync(fn)
            assert self._write_lock is not None
            sync_engine = self._sync_engine

            def run() -> T:
                with sync_engine.connect() as conn:
                    conn = conn.execution_options(portside_write=True)
                    with conn.begin():
                        return fn(conn)

            async with self._write_lock.hold(urgent=urgent):
                return await asyncio.to_thread(run)
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc

    @asynccontextmanager
    async def _write_session(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(portside_write=True)
                async with conn.begin():
                    session = AsyncSession(bind=conn, expire_on_commit=False)
                    try:
                        yield session
                        await session.flush()
                    finally:
                        await session.close()
        except SQLAlchemyError as exc:
            raise StorageError(f"database write failed: {exc}") from exc
