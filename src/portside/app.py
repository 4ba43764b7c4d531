"""``create_app(settings)``: the ASGI application composed above the JSON API (:mod:`portside.api`)
and the pages (:mod:`portside.ui`), with its services opened in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from portside import __version__, ui
from portside.api import (
    accounts_api,
    activities,
    admission,
    errors,
    events,
    exceptions_api,
    notifications,
    repositories,
    scans,
    status,
    tags,
    vulnerabilities,
    webhooks_api,
)
from portside.reads.overview import CountsCache
from portside.services import open_services
from portside.settings import Settings
from portside.tokenserver import server as tokenserver
from portside.web.sessions import Sessions


def create_app(settings: Settings, *, background: bool = False) -> FastAPI:
    """The HTTP side; with ``background=True`` the background tasks run in the same process."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings, ingest=True, background=background) as services:
            app.state.services = services
            yield

    app = FastAPI(
        title="Portside",
        version=__version__,
        description="An index of a Docker/OCI registry, kept in sync in real time.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # /api/docs is a page of the UI (portside.ui.apidocs): no CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.counts_cache = CountsCache()  # the dashboard's and the summary's, shared
    errors.install(app)
    app.add_middleware(Sessions, settings=settings)  # inside the admission's
    app.add_middleware(admission.Admission, settings=settings)  # inside the webhook's
    app.add_middleware(notifications.WebhookFastPath)
    app.include_router(notifications.router)
    app.include_router(tokenserver.router)  # /v2/token, before anything else can match
    app.include_router(repositories.router)
    app.include_router(tags.router)
    app.include_router(scans.router)
    app.include_router(activities.router)
    app.include_router(events.router)
    app.include_router(webhooks_api.router)
    app.include_router(accounts_api.router)
    app.include_router(status.router)
    app.include_router(vulnerabilities.router)
    app.include_router(exceptions_api.router)
    ui.install(app)
    return app
