"""The security hub's reads: vulnerabilities across the index, from the ``findings`` rows.

Everything is seen through the principal: a digest counts only through its tags in
repositories of namespaces the principal may read (:func:`accounts.readable_namespace_ids`),
and only while it is tagged. A vulnerability is counted once however many findings it has
(one per package and digest): its images are its distinct digests, its tags the distinct
tags on them. An advisory id or any alias (``CVE-2021-44228``, any case) finds it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Label,
    Select,
    and_,
    bindparam,
    case,
    distinct,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from portside.accounts import store as accounts
from portside.accounts.policy import Principal
from portside.db.models import (
    Advisory,
    AdvisoryAlias,
    Finding,
    ImageFindingGroup,
    Namespace,
    Repository,
    ScanTarget,
    Tag,
)
from portside.index.names import namespace_of
from portside.security import exceptions
from portside.security.severity import ORDER, Severity

RANK = {level.value: level.rank for level in Severity}
TOP = 10  # the page's "most exposed images"
GROUPS_LISTED = 1000  # a filter's groups named in the query, up to this many


@dataclass(frozen=True)
class HubFilter:
    """What a reader narrows the hub to (each already validated at the edge)."""

    q: str | None = None  # an advisory id or alias
    package: str | None = None  # a package name, exactly (or in lower case)
    severity: str | None = None  # this level or worse
    fixable: bool | None = None  # a fixed version is known (True) or not (False)
    namespace: str | None = None  # a namespace name ("" the global one)
    repository: str | None = None  # a repository name
    # The advisory ids ``q`` names, once looked up (:func:`resolve`).
    ids: tuple[str, ...] | None = None
    hide_allowed: bool = False  # leave out what an exception in force allows
    # The exceptions in force, once loaded (:func:`resolve`).
    allowances: tuple[exceptions.Allowance, ...] | None = None
    # The groups holding the findings the filter selects, once looked up (:func:`resolve`),
    # when there are at most GROUPS_LISTED of them.
    groups: tuple[int, ...] | None = None


@dataclass(frozen=True)
class VulnerabilityRow:
    id: str
    aliases: list[str]
    severity: str
    summary: str | None
    fix_available: bool
    images: int
    tags: int
    allowed_tags: int = 0  # of its tags, those where an exception allows it


@dataclass(frozen=True)
class AffectedRow:
    repository: str
    tag: str
    tag_id: int
    digest: str
    advisory_id: str
    package: str
    version: str
    fixed_version: str | None
    severity: str
    allowed: dict[str, Any] | None = None  # the exception allowing it (who, why, until)


@dataclass(frozen=True)
class ExposedImage:
    digest: str
    vulnerabilities: int
    worst: str
    fixable: int  # vulnerabilities with a fix for at least one of its packages
    tags: list[tuple[int, str, str]] = field(default_factory=list)  # tag id, repository, tag


@dataclass(frozen=True)
class Listing:
    rows: list[VulnerabilityRow]
    total: int
    page: int
    per_page: int


def _rank() -> ColumnElement[int]:
    return case(RANK, value=Finding.severity, else_=0)


def _tag_conditions(principal: Principal, where: HubFilter) -> list[ColumnElement[bool]]:
    """Conditions on (Tag, Repository) for the tags the principal may see, narrowed."""
    conditions: list[ColumnElement[bool]] = [Repository.id == Tag.repository_id]
    readable = accounts.readable_namespace_ids(principal)
    if readable is not None:
        conditions.append(Repository.namespace_id.in_(readable))
    if where.namespace is not None:
        conditions.append(
            Repository.namespace_id.in_(
                select(Namespace.id).where(Namespace.name == where.namespace)
            )
        )
    if where.repository is not None:
        conditions.append(Repository.name == where.repository)
    return conditions


def _visible_targets(principal: Principal, where: HubFilter) -> Select[int]:
    """The scan targets with a tag the principal may see (in the namespace / repository)."""
    tagged = (
        exists()
        .where(Tag.digest == ScanTarget.digest, *_tag_conditions(principal, where))
        .correlate(ScanTarget)
    )
    return select(ScanTarget.id).where(tagged)


async def resolve(session: AsyncSession, where: HubFilter) -> HubFilter:
    """``where`` with what is looked up first: the advisory ids its ``q`` names (ignoring
    case; an external scanner's id is matched as it is), the exceptions in force, and the
    groups of findings it selects. With the groups named, the planner knows how many digests
    to expect (a CVE in most images is joined to the tags by hashing, not one by one)."""
    if where.allowances is None:
        found_allowances = await exceptions.active(session, datetime.now(UTC))
        where = replace(where, allowances=tuple(found_allowances))
    if where.q is not None and where.ids is None:
        found = await session.scalars(
            select(AdvisoryAlias.advisory_id).where(AdvisoryAlias.key == where.q.lower())
        )
        where = replace(where, ids=tuple(sorted({*found.all(), where.q})))
    conditions = _finding_conditions(where)
    if conditions and where.groups is None:
        groups = await session.scalars(
            select(Finding.group_id).where(*conditions).distinct().limit(GROUPS_LISTED + 1)
        )
        listed = tuple(sorted(groups.all()))
        if len(listed) <= GROUPS_LISTED:
            where = replace(where, groups=listed)
    return where


def _finding_conditions(where: HubFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.q is not None:
        if where.ids is None:
            raise ValueError("resolve(session, where) first")
        conditions.append(Finding.advisory_id.in_(where.ids))
    if where.package is not None:
        conditions.append(Finding.package.in_(sorted({where.package, where.package.lower()})))
    if where.severity is not None and where.severity in ORDER:
        floor = RANK[where.severity]
        conditions.append(Finding.severity.in_([s for s, r in RANK.items() if r >= floor]))
    if where.fixable is True:
        conditions.append(Finding.fixed_version.is_not(None))
    elif where.fixable is False:
        conditions.append(Finding.fixed_version.is_(None))
    return conditions


def _allowed(
    where: HubFilter, namespace_id: ColumnElement[int] | None = None
) -> ColumnElement[bool] | None:
    """The (tag, finding) pairs an exception in force allows, on Finding and the tag's
    namespace id (``Repository.namespace_id`` unless given); None when there is no
    exception."""
    if not where.allowances:
        return None
    conditions: list[ColumnElement[bool]] = []
    for allowance in where.allowances:
        ids = sorted({*allowance.ids, allowance.vulnerability.upper()})
        named = Finding.advisory_id.in_(ids)
        if allowance.namespace is None:
            conditions.append(named)
        else:
            conditions.append(
                and_(
                    named,
                    (Repository.namespace_id if namespace_id is None else namespace_id).in_(
                        select(Namespace.id).where(Namespace.name == allowance.namespace)
                    ),
                )
            )
    return or_(*conditions)


def _visible_findings(principal: Principal, where: HubFilter) -> list[ColumnElement[bool]]:
    conditions = [
        ImageFindingGroup.scan_target_id.in_(_visible_targets(principal, where)),
        *_finding_conditions(where),
    ]
    if where.hide_allowed and where.allowances:
        # By digest (a digest may be tagged in several namespaces): the global exceptions.
        everywhere = sorted({i for a in where.allowances if a.namespace is None for i in a.ids})
        if everywhere:
            conditions.append(Finding.advisory_id.not_in(everywhere))
    return conditions


async def vulnerabilities(
    session: AsyncSession,
    principal: Principal,
    where: HubFilter,
    *,
    page: int = 1,
    per_page: int = 50,
    order: str = "images",
) -> Listing:
    """One page of vulnerabilities, the most widespread first (``order="severity"``: the
    worst first), each once, with its image and tag counts."""
    where = await resolve(session, where)
    pairs, links = _pairs(principal, where)
    images = func.count(distinct(links.target_id))
    tags = func.count(distinct(links.tag_id))
    worst = func.max(_rank())
    fixable = func.max(case((Finding.fixed_version.is_not(None), 1), else_=0))
    allowed = _allowed(where, links.namespace_id)
    allowed_tags = (
        func.count(distinct(case((allowed, links.tag_id)))) if allowed is not None else literal(0)
    )
    ordering = (
        [worst.desc(), images.desc(), Finding.advisory_id]
        if order == "severity"
        else [images.desc(), worst.desc(), Finding.advisory_id]
    )
    # One pass over the (visible tag, finding) pairs: each vulnerability's digests and tags
    # counted at once, and the number of vulnerabilities (a window over the groups).
    grouped = pairs.with_only_columns(
        Finding.advisory_id, images, tags, worst, fixable, func.count().over(), allowed_tags
    ).group_by(Finding.advisory_id)
    found = (
        await session.execute(
            grouped.order_by(*ordering).limit(per_page).offset((page - 1) * per_page)
        )
    ).all()
    if found:
        total = int(found[0][5])
    else:  # past the last page (or nothing): counted apart
        counted = pairs.with_only_columns(func.count(distinct(Finding.advisory_id)))
        total = int(await session.scalar(counted) or 0)
    aliases, summaries = await _names(session, [row[0] for row in found])
    level = {rank: word for word, rank in RANK.items()}
    rows = [
        VulnerabilityRow(
            id=advisory,
            aliases=aliases.get(advisory, []),
            severity=level.get(int(rank or 0), "Unknown"),
            summary=summaries.get(advisory),
            fix_available=bool(fix),
            images=int(count),
            tags=int(tag_count),
            allowed_tags=int(allowed_count or 0),
        )
        for advisory, count, tag_count, rank, fix, _, allowed_count in found
    ]
    return Listing(rows, total, page, per_page)


async def _names(
    session: AsyncSession, ids: Sequence[str]
) -> tuple[dict[str, list[str]], dict[str, str | None]]:
    """The aliases (its own id left out) and summary of each advisory."""
    if not ids:
        return {}, {}
    aliases: dict[str, list[str]] = {}
    for advisory, alias in (
        await session.execute(
            select(AdvisoryAlias.advisory_id, AdvisoryAlias.alias)
            .where(AdvisoryAlias.advisory_id.in_(ids))
            .order_by(AdvisoryAlias.advisory_id, AdvisoryAlias.alias)
        )
    ).all():
        if alias != advisory:
            aliases.setdefault(advisory, []).append(alias)
    summaries = {
        advisory: summary
        for advisory, summary in (
            await session.execute(select(Advisory.id, Advisory.summary).where(Advisory.id.in_(ids)))
        ).all()
    }
    return aliases, summaries


def _links(principal: Principal, where: HubFilter, *, named: bool) -> Any:
    """The visible tags of the groups the filter's findings are in: (group, target, tag id,
    namespace id, and with ``named`` the digest, tag and repository names), worked out once
    per group and tag and kept (``MATERIALIZED``), so that the tags are looked up once per
    vulnerable package of an image, not once per finding. Counting needs no names: left out,
    the kept rows are a few integers."""
    columns: list[Label[Any]] = [
        ImageFindingGroup.group_id.label("group_id"),
        ImageFindingGroup.scan_target_id.label("target_id"),
        Tag.id.label("tag_id"),
        Repository.namespace_id.label("namespace_id"),
    ]
    if named:
        columns += [
            ScanTarget.digest.label("digest"),
            Tag.name.label("tag"),
            Repository.name.label("repository"),
        ]
    query = (
        select(*columns)
        .select_from(ImageFindingGroup)
        .join(ScanTarget, ScanTarget.id == ImageFindingGroup.scan_target_id)
        .join(Tag, Tag.digest == ScanTarget.digest)
        .join(Repository, and_(*_tag_conditions(principal, where)))
    )
    conditions = _finding_conditions(where)
    if where.groups is not None:
        # Written into the statement (ids the database gave): a prepared statement's generic
        # plan, which PostgreSQL may choose after a few runs, would not know them.
        listed: BindParameter[list[int]] = bindparam(
            "hub_groups", list(where.groups), expanding=True, literal_execute=True
        )
        query = query.where(ImageFindingGroup.group_id.in_(listed))
    elif conditions:
        query = query.where(
            ImageFindingGroup.group_id.in_(select(Finding.group_id).where(*conditions))
        )
    return query.cte("visible_links").prefix_with("MATERIALIZED")


def _pairs(
    principal: Principal, where: HubFilter, *, named: bool = False
) -> tuple[Select[*tuple[Any, ...]], Any]:
    """The (visible tag, finding) pairs the filter selects (its columns to be chosen), and
    the links' columns (``.c``: target_id, tag_id, namespace_id; with ``named`` digest, tag,
    repository)."""
    links = _links(principal, where, named=named)
    query = (
        select(Finding.group_id)
        .select_from(Finding)
        .join(links, links.c.group_id == Finding.group_id)
        .where(*_finding_conditions(where))
    )
    allowed = _allowed(where, links.c.namespace_id) if where.hide_allowed else None
    return (query.where(not_(allowed)) if allowed is not None else query), links.c


def _marked(row: Any, where: HubFilter) -> AffectedRow:
    """An affected row, with the exception allowing it when one does."""
    found = AffectedRow(**row._mapping)
    if not where.allowances:
        return found
    allowance = exceptions.covering(
        where.allowances,
        namespace_of(found.repository),
        found.advisory_id,
        (),
        datetime.now(UTC),
    )
    return found if allowance is None else replace(found, allowed=allowance.shown())


def _affected(principal: Principal, where: HubFilter) -> Select[*tuple[Any, ...]]:
    """Every (visible tag, finding) pair, with what the detail shows of it, in order."""
    pairs, links = _pairs(principal, where, named=True)
    return pairs.with_only_columns(
        links.repository.label("repository"),
        links.tag.label("tag"),
        links.tag_id.label("tag_id"),
        links.digest.label("digest"),
        Finding.advisory_id,
        Finding.package,
        Finding.version,
        Finding.fixed_version,
        Finding.severity,
    ).order_by(links.repository, links.tag, Finding.advisory_id, Finding.package, Finding.version)


@dataclass(frozen=True)
class Detail:
    """A vulnerability by id or alias: the advisories it names and the tags they affect."""

    query: str
    advisories: list[VulnerabilityRow]
    affected: list[AffectedRow]
    total: int
    page: int
    per_page: int


def for_name(name: str, where: HubFilter) -> HubFilter:
    """``where`` narrowed to one vulnerability by id or alias."""
    return replace(where, q=name, ids=None, groups=None)


async def vulnerability(
    session: AsyncSession,
    principal: Principal,
    name: str,
    where: HubFilter,
    *,
    page: int = 1,
    per_page: int = 100,
) -> Detail | None:
    """The tags an advisory (by id or alias) affects, a page of them; None when the principal
    sees no finding of it."""
    narrowed = await resolve(session, for_name(name, where))
    listing = await vulnerabilities(session, principal, narrowed, per_page=100)
    if not listing.rows:
        return None
    query = _affected(principal, narrowed)
    total = int(
        await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    )
    rows = (await session.execute(query.limit(per_page).offset((page - 1) * per_page))).all()
    return Detail(
        query=name,
        advisories=listing.rows,
        affected=[_marked(row, narrowed) for row in rows],
        total=total,
        page=page,
        per_page=per_page,
    )


async def affected_stream(
    session: AsyncSession, principal: Principal, where: HubFilter
) -> AsyncIterator[AffectedRow]:
    """Every affected (tag, finding) the filter selects, streamed from the database (for
    the CSV export; ``where.q`` narrows it to one vulnerability)."""
    where = await resolve(session, where)
    result = await session.stream(_affected(principal, where).execution_options(yield_per=500))
    async for row in result:
        yield _marked(row, where)


async def exposed_images(
    session: AsyncSession, principal: Principal, where: HubFilter, *, limit: int = TOP
) -> list[ExposedImage]:
    """The digests with the most vulnerabilities (each counted once), with their tags."""
    where = await resolve(session, where)
    found = (
        await session.execute(
            select(
                ImageFindingGroup.scan_target_id,
                func.count(distinct(Finding.advisory_id)).label("n"),
                func.max(_rank()),
                func.count(
                    distinct(case((Finding.fixed_version.is_not(None), Finding.advisory_id)))
                ),
            )
            .where(*_visible_findings(principal, where))
            .select_from(ImageFindingGroup)
            .join(Finding, Finding.group_id == ImageFindingGroup.group_id)
            .group_by(ImageFindingGroup.scan_target_id)
            .order_by(
                func.count(distinct(Finding.advisory_id)).desc(), ImageFindingGroup.scan_target_id
            )
            .limit(limit)
        )
    ).all()
    if not found:
        return []
    ids = [row[0] for row in found]
    digests = dict(
        (
            await session.execute(
                select(ScanTarget.id, ScanTarget.digest).where(ScanTarget.id.in_(ids))
            )
        ).all()
    )
    tags: dict[str, list[tuple[int, str, str]]] = {}
    for tag_id, repository, tag, digest in (
        await session.execute(
            select(Tag.id, Repository.name, Tag.name, Tag.digest)
            .join(Repository, and_(*_tag_conditions(principal, where)))
            .where(Tag.digest.in_(list(digests.values())))
            .order_by(Repository.name, Tag.name)
        )
    ).all():
        tags.setdefault(digest, []).append((tag_id, repository, tag))
    level = {rank: word for word, rank in RANK.items()}
    return [
        ExposedImage(
            digest=digests[target],
            vulnerabilities=int(n),
            worst=level.get(int(rank or 0), "Unknown"),
            fixable=int(fixable),
            tags=tags.get(digests[target], []),
        )
        for target, n, rank, fixable in found
    ]
