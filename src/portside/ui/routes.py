"""The web UI's pages: thin handlers that read through :mod:`portside.reads` and render.

Every page shows what the request's principal may see (:mod:`portside.web.access`), as the
API does: anonymous readers on a bind that does not trust them see the public namespaces;
the registry events and the tasks and queues are for who reads everything. The one
mutation, the retry of failed events, is a plain form POST by an admin's login session (with
the session's CSRF token), or, for a server without accounts, with the admin token typed into
a password field, checked in constant time like the API's bearer token (a typed token is no
ambient credential, so it needs no CSRF token).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from portside.accounts.policy import Principal
from portside.events import queue as event_queue
from portside.index.names import namespace_of
from portside.reads import history, overview, vulndata
from portside.reads import repositories as repository_reads
from portside.reads import tags as tag_reads
from portside.reads.paging import Slice, Window
from portside.security.severity import ORDER
from portside.ui import findings
from portside.ui.format import Pager, page_number, row_id
from portside.ui.render import Pages, query
from portside.web import csrf
from portside.web.access import PrincipalDep, admin_tokens, token_matches
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


ADMINS_ONLY = "The registry events are shown to admins only."


async def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.portside_pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]
router = APIRouter(include_in_schema=False)


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


def not_found(pages: Pages, what: str, reader: Principal) -> Response:
    return pages.render(
        "error.html", {"title": "Not found", "message": what, "reader": reader}, status=404
    )


def admins_only(pages: Pages, reader: Principal) -> Response:
    """The page of a global read refused: 401 anonymous, 403 logged in."""
    status = 403 if reader.authenticated else 401
    return pages.render(
        "error.html",
        {"title": "Admins only", "message": ADMINS_ONLY, "reader": reader},
        status=status,
    )


@router.get("/")
async def dashboard(
    pages: PagesDep,
    services: ServicesDep,
    session: ReadSession,
    cache: CountsCacheDep,
    principal: PrincipalDep,
) -> Response:
    data = await overview.dashboard(session, services.settings, cache, principal=principal)
    vdata = await vulndata.vulndata(session, services.settings, datetime.now(UTC))
    return pages.render(
        "dashboard.html",
        {
            "nav": "dashboard",
            "d": data,
            "v": vdata,
            "refresh": REFRESH_SECONDS,
            "reader": principal,
        },
    )


@router.get("/repositories")
async def repository_list(
    pages: PagesDep,
    session: ReadSession,
    principal: PrincipalDep,
    q: str | None = None,
    page: str | None = None,
    after: str | None = None,
) -> Response:
    text = (q or "").strip()[:MAX_QUERY]
    found = await repository_reads.repositories(
        session, window(REPOSITORIES_PER_PAGE, after, page), principal=principal, q=text
    )
    return pages.render(
        "repositories.html",
        {
            "nav": "repositories",
            "reader": principal,
            "q": text,
            "rows": found.rows,
            "pager": pager(found, REPOSITORIES_PER_PAGE),
        },
    )


@router.get("/repositories/{repository_id}")
async def repository_page(
    repository_id: str,
    pages: PagesDep,
    session: ReadSession,
    principal: PrincipalDep,
    services: ServicesDep,
    page: str | None = None,
    after: str | None = None,
) -> Response:
    number = row_id(repository_id)
    found = (
        await repository_reads.repository(session, number, principal=principal)
        if number is not None
        else None
    )
    if found is None or number is None:
        return not_found(pages, f"There is no repository with id {repository_id}.", principal)
    tags = await repository_reads.tags(
        session, number, window(TAGS_PER_PAGE, after, page), principal=principal
    )
    shown = {
        "repository": found,
        "namespace": found.namespace,
        "tags": tags.rows,
        "pager": pager(tags, TAGS_PER_PAGE),
    }
    verdict_of = await vulndata.verdicts(
        session, services.settings, datetime.now(UTC), namespace=found.namespace
    )
    return pages.render(
        "repository.html",
        {"nav": "repositories", "r": shown, "verdict_of": verdict_of, "reader": principal},
    )


@router.get("/tags/{tag_id}")
async def tag_page(
    tag_id: str,
    pages: PagesDep,
    session: ReadSession,
    principal: PrincipalDep,
    services: ServicesDep,
    severity: str | None = None,
    sort: str | None = None,
    pkg: str | None = None,
) -> Response:
    number = row_id(tag_id)
    found = (
        await tag_reads.tag(session, number, principal=principal, others=True)
        if number is not None
        else None
    )
    if found is None:
        return not_found(pages, f"There is no tag with id {tag_id}.", principal)
    now = datetime.now(UTC)
    namespace = namespace_of(found.repository.name)
    raw = list(found.target.findings or []) if found.target else []
    raw = await vulndata.allowed_findings(session, raw, namespace, now)
    packages = found.target.packages if found.target else None
    os = found.target.os if found.target else None
    chosen = severity if severity in ORDER else None
    order = sort if sort in findings.SORTS else "severity"
    return pages.render(
        "tag.html",
        {
            "nav": "repositories",
            "reader": principal,
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
            "verdict_of": await vulndata.verdicts(
                session, services.settings, now, namespace=namespace
            ),
        },
    )


@router.get("/activities")
async def activity_list(
    pages: PagesDep,
    session: ReadSession,
    principal: PrincipalDep,
    page: str | None = None,
    after: str | None = None,
) -> Response:
    found = await history.activities(
        session,
        window(ACTIVITIES_PER_PAGE, after, page),
        principal=principal,
        count=False,
        by_time=True,
    )
    return pages.render(
        "activities.html",
        {
            "nav": "activities",
            "reader": principal,
            "rows": found.rows,
            "pager": pager(found, ACTIVITIES_PER_PAGE),
        },
    )


async def render_events(
    pages: Pages,
    session: AsyncSession,
    status: str | None,
    page: int,
    *,
    reader: Principal,
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
            "reader": reader,
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


@router.get("/events")
async def event_list(
    pages: PagesDep,
    session: ReadSession,
    principal: PrincipalDep,
    status: str | None = None,
    page: str | None = None,
    retried: str | None = None,
    after: str | None = None,
) -> Response:
    if not principal.reads_everything:
        return admins_only(pages, principal)
    return await render_events(
        pages,
        session,
        status,
        page_number(page),
        reader=principal,
        after=after,
        notice=retried_notice(retried),
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
    if not offered and tokens:
        return "Log in as an administrator, or give the admin token: nothing was retried."
    if not tokens:
        return "No admin token is configured (api.admin_tokens): retrying is disabled."
    if not token_matches(offered, tokens):
        return "Wrong admin token: nothing was retried."
    return None


@router.post("/events/retry")
async def retry(
    request: Request, pages: PagesDep, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Replay failed events (``id`` fields, or ``all=1``), as ``POST /api/v1/events/retry``
    does, for an admin's login session (with its CSRF token), or with the admin token in the
    form's ``token``. Answers 303 back to the events."""
    form = await read_form(request)
    status = (form.get("status") or [""])[0]
    settings = services.settings
    typed = (form.get("token") or [""])[0]
    if not typed and principal.admin and principal.user_id is not None:  # an admin's login
        csrf.check_form(request, form)
        refused: str | None = None
    else:
        refused = refusal(admin_tokens(settings), typed)
    code = 403
    ids: list[int] | None = None
    if refused is None and (form.get("all") or [""])[0] != "1":
        ids = [int(v) for v in form.get("id", []) if v.isdigit() and len(v) <= 15]
        if not ids:
            refused, code = "Choose an event to retry.", 400
    if refused is not None:
        log.warning("web UI retry refused: %s", refused)
        if not principal.reads_everything:  # the events page is not for everyone to see
            return pages.render(
                "error.html",
                {"title": "Refused", "message": refused, "reader": principal},
                status=code,
            )
        async with services.db.read() as session:
            return await render_events(
                pages, session, status, 1, reader=principal, message=refused, code=code
            )
    async with services.db.write() as session:
        queued = await event_queue.replay(session, ids, datetime.now(UTC))
    log.info("web UI retry: %d event(s) queued again", queued)
    chosen = status if status in event_queue.STATUSES else None
    return RedirectResponse(query("/events", status=chosen, retried=queued), status_code=303)
