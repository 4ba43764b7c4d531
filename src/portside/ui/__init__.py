"""The web UI: server-rendered pages (Jinja2), a little CSS, a little JavaScript, no build.

``install(app)`` adds the pages and ``/static`` to the FastAPI application; nothing is built
or opened at import time. The pages read through :mod:`portside.reads`, as the API does;
what they show is shaped by the pure functions of :mod:`portside.ui.format` and
:mod:`portside.ui.findings`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from portside.ui import account, admin, apidocs, login, vulnerabilities
from portside.ui.render import Pages
from portside.ui.routes import router
from portside.ui.viewer import LoginNeeded, PageForbidden, page_viewer
from portside.web.csrf import FormRefused

STATIC = Path(__file__).parent / "static"

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their 401, 403 and login-redirect answers to
    ``app`` (once). Every page runs :func:`~portside.ui.viewer.page_viewer` first, so that
    the layout knows who is logged in."""
    if getattr(app.state, "portside_ui", False):
        return
    app.state.portside_ui = True
    pages = Pages()
    app.state.portside_pages = pages

    async def login_needed(request: Request, _: Exception) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)

    async def forbidden(_: Request, exc: Exception) -> Response:
        return pages.render("error.html", {"title": "Not allowed", "message": str(exc)}, status=403)

    async def form_refused(_: Request, exc: Exception) -> Response:
        return pages.render(
            "error.html", {"title": "Form refused", "message": str(exc)}, status=403
        )

    app.add_exception_handler(LoginNeeded, login_needed)
    app.add_exception_handler(PageForbidden, forbidden)
    app.add_exception_handler(FormRefused, form_refused)
    viewer = [Depends(page_viewer)]
    for pages_router in (
        router,
        vulnerabilities.router,
        login.router,
        account.router,
        admin.router,
    ):
        app.include_router(pages_router, dependencies=viewer)
    app.include_router(apidocs.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
