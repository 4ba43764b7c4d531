"""The web UI: server-rendered pages (Jinja2), a little CSS, a little JavaScript, no build.

``install(app)`` adds the pages and ``/static`` to the FastAPI application; nothing is built
or opened at import time. The pages read through :mod:`portside.reads`, as the API does;
what they show is shaped by the pure functions of :mod:`portside.ui.format` and
:mod:`portside.ui.findings`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from portside.ui import apidocs, vulnerabilities
from portside.ui.render import Pages
from portside.ui.routes import ReadsClosed, router

STATIC = Path(__file__).parent / "static"

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their 401 page to ``app`` (once)."""
    if getattr(app.state, "portside_ui", False):
        return
    app.state.portside_ui = True
    pages = Pages()
    app.state.portside_pages = pages

    async def reads_closed(_: Request, exc: Exception) -> Response:
        return pages.render(
            "error.html", {"title": "Reading is closed", "message": str(exc)}, status=401
        )

    app.add_exception_handler(ReadsClosed, reads_closed)
    app.include_router(router)
    app.include_router(vulnerabilities.router)
    app.include_router(apidocs.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
