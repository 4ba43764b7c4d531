"""The pages' Jinja2 environment and HTML responses.

Autoescaping is on for every template: registry names, actors, event errors and
vulnerability data are always text on the page. No template marks data ``|safe``. The
responses carry a Content-Security-Policy that allows scripts and styles from this server
only, so even a slip could not run an inline script or load anything from the internet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from portside import __version__
from portside.security.severity import ORDER
from portside.ui import format as fmt

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    """Who the page is for, as the layout shows it (the header's name and links, the forms'
    CSRF token). ``csrf()`` makes the session's token when a form first needs one, so that
    browsing without a form sets no cookie."""

    name: str | None = None
    admin: bool = False
    csrf: Callable[[], str] = lambda: ""


NOBODY = Viewer()
# Set per request by the pages' router dependency (portside.ui.viewer), read by render().
current_viewer: ContextVar[Viewer] = ContextVar("portside_viewer", default=NOBODY)


def query(base: str, **params: Any) -> str:
    """``base?k=v...`` without the empty parameters (and without page 1)."""
    kept = {k: v for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)}
    return f"{base}?{urlencode(kept)}" if kept else base


def build_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("portside.ui", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        size=fmt.human_size,
        duration=fmt.duration,
        short=fmt.short_digest,
        platforms=fmt.platforms,
        timestamp=fmt.timestamp,
        sevclass=fmt.severity_class,
        pathquote=lambda value: quote(str(value), safe=":"),
    )
    env.globals.update(
        version=__version__,
        severities=ORDER,
        query=query,
        scan_badge=fmt.scan_badge,
        task_health=fmt.task_health,
    )
    return env


class Pages:
    """Renders the templates; ``now`` is taken per response for the relative times."""

    def __init__(self, environment: Environment | None = None):
        self.environment = environment or build_environment()

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        now = datetime.now(UTC)
        body = self.environment.get_template(name).render(
            {
                "now": now,
                "ago": lambda when: fmt.ago(when, now),
                "viewer": current_viewer.get(),
                **context,
            }
        )
        return HTMLResponse(
            body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})}
        )
