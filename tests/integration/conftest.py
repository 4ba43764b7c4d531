"""Integration fixtures: real SQLite and PostgreSQL databases, a real registry, a real server."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from portside.db.engine import Database
from portside.settings import ServerSettings, Settings, load_settings
from portside.web.clients import proxy_options
from tests.support import databases
from tests.support.net import free_port

TOKEN = "s3cret"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = databases.pg_template()
    yield name
    databases.pg_drop_sync(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A freshly migrated database; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield databases.sqlite_clone(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    name = await databases.pg_clone(request.getfixturevalue("pg_template"))
    try:
        yield databases.PG_URL.format(name=name)
    finally:
        await databases.pg_drop(name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as database:
        yield database


@pytest.fixture
async def pg_db(pg_template: str) -> AsyncIterator[Database]:
    """A freshly migrated PostgreSQL database, for tests of what only PostgreSQL does."""
    name = await databases.pg_clone(pg_template)
    try:
        async with Database(databases.PG_URL.format(name=name)) as db:
            yield db
    finally:
        await databases.pg_drop(name)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "database_url": database_url,
        "notifications": {"tokens": [TOKEN]},
        "server": {"host": "127.0.0.1", "port": free_port()},
        "background": {"schema_wait": 5},
        "vulndb": {"enabled": False},  # never osv.dev from a test (a test turns sources on)
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return load_settings(None, **base)


@asynccontextmanager
async def serving(
    app: FastAPI, port: int, *, trusted_proxies: list[str] | None = None
) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1:port in this event loop, with the proxy
    headers `portside serve` would use (none believed unless ``trusted_proxies``)."""
    server_settings = ServerSettings(trusted_proxies=trusted_proxies or [])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        **proxy_options(server_settings),
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    if task.done():
        task.result()
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session", autouse=True)
def _system_tools() -> None:
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run `make test`, which installs it")
