"""The web UI's pages: thin handlers that read through :mod:`portside.reads` and render.

Reads follow the API's rule (:func:`portside.web.access.reads_open`); when reads are closed
the pages answer 401 with a short explanation (the UI has no login). The one mutation, the
retry of failed events, is a plain form POST that carries the admin token in a password
field, checked in constant time like the API's bearer token.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from portside.events import queue as event_queue
from portside.reads import history, overview, vulndata
from portside.reads import repositories as repository_reads
from portside.reads import tags as tag_reads
from portside.reads.paging import Slice, Window
from portside.security.severity import ORDER
from portside.ui import findings
from portside.ui.format import Pager, page_number, row_id
from portside.ui.render import Pages, query
from portside.web.access import Unauthorized, admin_tokens, reads_open, token_matches
from portside.web.deps import CountsCacheDep, ReadSession, ServicesDep

log = logging.getLogger(__name__)

REPOSITORIES_PER_PAGE = 50
TAGS_PER_PAGE = 100
ACTIVITIES_PER_PAGE = 50
EVENTS_PER_PAGE = 50
REFRESH_SECONDS = 5
MAX_FORM = 16 * 1024
MAX_QUERY = 200
STATUS_NAMES = {"fresh": "Waiting", "progress": "In progress", "done": "Done", "failed": "Failed"}


class ReadsClosed(Unauthorized):
    """A page read while reads are closed and no admin token came with it (401)."""


async def require_page_reader(request: Request, services: ServicesDep) -> None:
    settings = services.settings
    if reads_open(settings):
        return
    if token_matches(request.headers.get("authorization"), admin_tokens(settings)):
        return
    raise ReadsClosed(
        "Reading is closed on this server: it listens beyond loopback, or "
        "api.anonymous_reads is off. The web UI has no login; use the JSON API with "
        "Authorization: Bearer <admin token>, or ask the operator to open reads."
    )


async def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.portside_pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]
router = APIRouter(include_in_schema=False)
reader = [Depends(require_page_reader)]


def window(per_page: int, after: str | None, page: str | None) -> Window:
    return Window(per_page=per_page, cursor=after, page=page_number(page))


def pager(found: Slice[Any], per_page: int) -> Pager:
    return Pager(
        per_page=per_page,
        shown=len(found.rows),
        total=found.total,
        estimated=found.estimated,
        start=found.first,
        page=found.page,
        next=found.next,
        previous=found.previous,
    )


def not_found(pages: Pages, what: str) -> Response:
    return pages.render("error.html", {"title": "Not found", "message": what}, status=404)


@router.get("/", dependencies=reader)
async def dashboard(
    pages: PagesDep, services: ServicesDep, session: ReadSession, cache: CountsCacheDep
) -> Response:
    data = await overview.dashboard(session, services.settings, cache)
    vdata = await vulndata.vulndata(session, services.settings, datetime.now(UTC))
    return pages.render(
        "dashboard.html",
        {"nav": "dashboard", "d": data, "v": vdata, "refresh": REFRESH_SECONDS},
    )


@router.get("/repositories", dependencies=reader)
async def repository_list(
    pages: PagesDep,
    session: ReadSession,
    q: str | None = None,
    page: str | None = None,
    after: str | None = None,
) -> Response:
    text = (q or "").strip()[:MAX_QUERY]
    found = await repository_reads.repositories(
        session, window(REPOSITORIES_PER_PAGE, after, page), q=text
    )
    return pages.render(
        "repositories.html",
        {
            "nav": "repositories",
            "q": text,
            "rows": found.rows,
            "pager": pager(found, REPOSITORIES_PER_PAGE),
        },
    )


@router.get("/repositories/{repository_id}", dependencies=reader)
async def repository_page(
    repository_id: str,
    pages: PagesDep,
    session: ReadSession,
    services: ServicesDep,
    page: str | None = None,
    after: str | None = None,
) -> Response:
    number = row_id(repository_id)
    found = await repository_reads.repository(session, number) if number is not None else None
    if found is None or number is None:
        return not_found(pages, f"There is no repository with id {repository_id}.")
    tags = await repository_reads.tags(session, number, window(TAGS_PER_PAGE, after, page))
    shown = {
        "repository": found,
        "namespace": found.namespace,
        "tags": tags.rows,
        "pager": pager(tags, TAGS_PER_PAGE),
    }
    verdict_of = await vulndata.verdicts(session, services.settings, datetime.now(UTC))
    return pages.render(
        "repository.html", {"nav": "repositories", "r": shown, "verdict_of": verdict_of}
    )


@router.get("/tags/{tag_id}", dependencies=reader)
async def tag_page(
    tag_id: str,
    pages: PagesDep,
    session: ReadSession,
    services: ServicesDep,
    severity: str | None = None,
    sort: str | None = None,
    pkg: str | None = None,
) -> Response:
    number = row_id(tag_id)
    found = await tag_reads.tag(session, number, others=True) if number is not None else None
    if found is None:
        return not_found(pages, f"There is no tag with id {tag_id}.")
    raw = list(found.target.findings or []) if found.target else []
    packages = found.target.packages if found.target else None
    os = found.target.os if found.target else None
    chosen = severity if severity in ORDER else None
    order = sort if sort in findings.SORTS else "severity"
    return pages.render(
        "tag.html",
        {
            "nav": "repositories",
            "t": found,
            "findings": findings.select_findings(raw, severity=chosen, sort=order),
            "total_findings": len(raw),
            "counts": findings.severity_counts(raw),
            "severity": chosen,
            "sort": order,
            "packages": findings.package_table(
                os, packages or [], raw, findings.package_query(pkg)
            ),
            "has_sbom": packages is not None,
            "max_pkg": findings.MAX_PACKAGE_QUERY,
            "verdict_of": await vulndata.verdicts(session, services.settings, datetime.now(UTC)),
        },
    )


@router.get("/activities", dependencies=reader)
async def activity_list(
    pages: PagesDep, session: ReadSession, page: str | None = None, after: str | None = None
) -> Response:
    found = await history.activities(
        session, window(ACTIVITIES_PER_PAGE, after, page), count=False, by_time=True
    )
    return pages.render(
        "activities.html",
        {"nav": "activities", "rows": found.rows, "pager": pager(found, ACTIVITIES_PER_PAGE)},
    )


async def render_events(
    pages: Pages,
    session: AsyncSession,
    status: str | None,
    page: int,
    *,
    after: str | None = None,
    message: str | None = None,
    notice: str | None = None,
    code: int = 200,
) -> Response:
    chosen = status if status in event_queue.STATUSES else None
    found = await history.events(
        session, Window(per_page=EVENTS_PER_PAGE, cursor=after, page=page), status=chosen
    )
    shown = {
        "rows": found.page.rows,
        "counts": found.counts,
        "pager": pager(found.page, EVENTS_PER_PAGE),
    }
    return pages.render(
        "events.html",
        {
            "nav": "events",
            "status": chosen,
            "statuses": STATUS_NAMES,
            "e": shown,
            "message": message,
            "notice": notice,
            "refresh": REFRESH_SECONDS,
        },
        status=code,
    )


def retried_notice(raw: str | None) -> str | None:
    if raw is None or not raw.isdigit() or len(raw) > 9:
        return None
    n = int(raw)
    if n == 0:
        return "Nothing was retried: the event is no longer failed."
    return f"{n} event{'s' if n != 1 else ''} queued again."


@router.get("/events", dependencies=reader)
async def event_list(
    pages: PagesDep,
    session: ReadSession,
    status: str | None = None,
    page: str | None = None,
    retried: str | None = None,
    after: str | None = None,
) -> Response:
    return await render_events(
        pages, session, status, page_number(page), after=after, notice=retried_notice(retried)
    )


async def read_form(request: Request) -> dict[str, list[str]]:
    """An ``application/x-www-form-urlencoded`` body of at most :data:`MAX_FORM` bytes
    (a larger one reads as empty)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return {}
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def refusal(tokens: list[str], offered: str) -> str | None:
    """Why a retry is refused, or None when the admin token matches (constant time)."""
    if not tokens:
        return "No admin token is configured (api.admin_tokens): retrying is disabled."
    if not token_matches(offered, tokens):
        return "Wrong admin token: nothing was retried."
    return None


@router.post("/events/retry")
async def retry(request: Request, pages: PagesDep, services: ServicesDep) -> Response:
    """Replay failed events (``id`` fields, or ``all=1``), as ``POST /api/v1/events/retry``
    does; the form's ``token`` must be an admin token. Answers 303 back to the events."""
    form = await read_form(request)
    status = (form.get("status") or [""])[0]
    settings = services.settings
    refused, code = refusal(admin_tokens(settings), (form.get("token") or [""])[0]), 403
    ids: list[int] | None = None
    if refused is None and (form.get("all") or [""])[0] != "1":
        ids = [int(v) for v in form.get("id", []) if v.isdigit() and len(v) <= 15]
        if not ids:
            refused, code = "Choose an event to retry.", 400
    if refused is not None:
        log.warning("web UI retry refused: %s", refused)
        if not reads_open(settings):  # the events page is not for everyone to see
            return pages.render("error.html", {"title": "Refused", "message": refused}, status=code)
        async with services.db.read() as session:
            return await render_events(pages, session, status, 1, message=refused, code=code)
    async with services.db.write() as session:
        queued = await event_queue.replay(session, ids, datetime.now(UTC))
    log.info("web UI retry: %d event(s) queued again", queued)
    chosen = status if status in event_queue.STATUSES else None
    return RedirectResponse(query("/events", status=chosen, retried=queued), status_code=303)
