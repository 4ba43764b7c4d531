"""The "Vulnerabilities" pages (the security hub): the most widespread vulnerabilities (each
counted once), the most exposed images, a search by advisory id or alias or by package, and
one page per vulnerability listing the tags it affects, with CSV export links (the JSON API's
CSV). Reads go through :mod:`portside.reads.vulnerabilities`, as the principal sees them;
query parameters that are not valid are left out (the page says so), never a 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.responses import Response

from portside.index.names import is_valid_namespace, is_valid_repository
from portside.reads import vulnerabilities as hub
from portside.security import exceptions
from portside.security.severity import ORDER
from portside.ui.format import page_number
from portside.ui.render import query
from portside.ui.routes import PagesDep, not_found
from portside.web.access import PrincipalDep
from portside.web.deps import ReadSession

router = APIRouter(include_in_schema=False)

PER_PAGE = 50
AFFECTED_PER_PAGE = 100
ADVISORY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,254}")
PACKAGE_NAME = re.compile(r"[A-Za-z0-9@_][A-Za-z0-9@/._:+~-]{0,511}")


@dataclass(frozen=True)
class Asked:
    """The page's query parameters, kept when valid, with what was left out and why."""

    where: hub.HubFilter
    problems: list[str]

    @property
    def params(self) -> dict[str, str | None]:
        w = self.where
        return {
            "q": w.q,
            "package": w.package,
            "severity": w.severity,
            "fixable": None if w.fixable is None else ("yes" if w.fixable else "no"),
            "namespace": w.namespace,
            "repository": w.repository,
            "allowed": "hide" if w.hide_allowed else None,
        }


def asked(
    q: str | None,
    package: str | None,
    severity: str | None,
    fixable: str | None,
    namespace: str | None,
    repository: str | None,
    allowed: str | None = None,
) -> Asked:
    """The filters of a page's query (pure)."""
    problems: list[str] = []

    def kept(raw: str | None, valid: bool, what: str) -> str | None:
        text = (raw or "").strip()
        if not text:
            return None
        if not valid:
            problems.append(f"“{text[:80]}” is not {what}: left out.")
            return None
        return text

    q_text, package_text = (q or "").strip(), (package or "").strip()
    ns, repo = (namespace or "").strip(), (repository or "").strip()
    where = hub.HubFilter(
        q=kept(q, bool(ADVISORY_ID.fullmatch(q_text)), "an advisory id or alias"),
        package=kept(package, bool(PACKAGE_NAME.fullmatch(package_text)), "a package name"),
        severity=severity if severity in ORDER else None,
        fixable={"yes": True, "no": False}.get(fixable or ""),
        namespace=kept(namespace, len(ns) <= 255 and is_valid_namespace(ns), "a namespace"),
        repository=kept(
            repository, len(repo) <= 255 and is_valid_repository(repo), "a repository name"
        ),
        hide_allowed=allowed == "hide",
    )
    return Asked(where, problems)


def csv_link(base: str, params: dict[str, str | None]) -> str:
    """The API's CSV of this page's filters (``fixable`` as the API spells it)."""
    shown = dict(params)
    if shown.get("fixable") is not None:
        shown["fixable"] = "true" if shown["fixable"] == "yes" else "false"
    if shown.pop("allowed", None) == "hide":
        shown["hide_allowed"] = "true"
    return query(base, **shown)


@router.get("/vulnerabilities")
async def vulnerability_list(
    pages: PagesDep,
    session: ReadSession,
    principal: PrincipalDep,
    q: str | None = None,
    package: str | None = None,
    severity: str | None = None,
    fixable: str | None = None,
    namespace: str | None = None,
    repository: str | None = None,
    allowed: str | None = None,
    order: str | None = None,
    page: str | None = None,
) -> Response:
    chosen = asked(q, package, severity, fixable, namespace, repository, allowed)
    number = page_number(page, maximum=100_000)
    sort = "severity" if order == "severity" else "images"
    found = await hub.vulnerabilities(
        session, principal, chosen.where, page=number, per_page=PER_PAGE, order=sort
    )
    exposed = await hub.exposed_images(session, principal, chosen.where)
    in_force = await exceptions.listed_for(session, principal, datetime.now(UTC), expired=False)
    params = chosen.params
    return pages.render(
        "vulnerabilities.html",
        {
            "nav": "vulnerabilities",
            "w": chosen.where,
            "params": params,
            "problems": chosen.problems,
            "rows": found.rows,
            "total": found.total,
            "page": number,
            "per_page": PER_PAGE,
            "order": sort,
            "exposed": exposed,
            "exceptions": in_force,
            "csv": csv_link("/api/v1/vulnerabilities.csv", params),
            "reader": principal,
        },
    )


@router.get("/vulnerabilities/{name}")
async def vulnerability_page(
    name: str,
    pages: PagesDep,
    session: ReadSession,
    principal: PrincipalDep,
    namespace: str | None = None,
    repository: str | None = None,
    page: str | None = None,
) -> Response:
    if not ADVISORY_ID.fullmatch(name):
        return not_found(pages, "That is not an advisory id or alias.", principal)
    chosen = asked(None, None, None, None, namespace, repository)
    number = page_number(page, maximum=100_000)
    found = await hub.vulnerability(
        session, principal, name, chosen.where, page=number, per_page=AFFECTED_PER_PAGE
    )
    if found is None:
        return not_found(pages, f"No image you may see has {name}.", principal)
    params = {"namespace": chosen.where.namespace, "repository": chosen.where.repository}
    return pages.render(
        "vulnerability.html",
        {
            "nav": "vulnerabilities",
            "name": name,
            "v": found,
            "params": params,
            "problems": chosen.problems,
            "page": number,
            "per_page": AFFECTED_PER_PAGE,
            "csv": csv_link(f"/api/v1/vulnerabilities/{name}.csv", params),
            "reader": principal,
        },
    )
