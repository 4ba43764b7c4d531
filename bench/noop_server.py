"""The 202-only baseline: ``portside serve``'s app and server, with storing taken out.

Run as ``python -m bench.noop_server`` with the same ``PORTSIDE_*`` variables as ``portside
serve``. The app is built by the same ``create_app``; its lifespan is wrapped so that, once
the real services are open, the ingestor's ``submit`` answers ``Stored(len(rows))`` at once instead
of waiting for the group commit. Everything else (auth, body read, parsing, classifying,
building rows, the 202 answer) is the real code, served by one uvicorn process with the same
options as ``portside serve``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from portside.app import create_app
from portside.events.ingest import Stored
from portside.logconfig import configure
from portside.settings import load_settings


def noop_app() -> FastAPI:
    settings = load_settings(None)
    configure(settings.log_level)
    app = create_app(settings)
    real_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with real_lifespan(app):

            async def submit(rows: list[dict[str, Any]]) -> Stored:
                return Stored(len(rows))

            app.state.services.ingestor.submit = submit
            yield

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    settings = load_settings(None)
    config = uvicorn.Config(
        noop_app(),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    asyncio.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
