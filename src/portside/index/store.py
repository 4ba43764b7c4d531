"""Reading and writing the index inside a session (the ORM side; no decisions here)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from portside.accounts.vocabulary import Visibility
from portside.db.conflict import conflict_insert
from portside.db.models import Activity, Namespace, Registry, Repository, Tag
from portside.index.names import GLOBAL_NAMESPACE, namespace_of
from portside.index.vocabulary import ActivityKind, TagScanState
from portside.registry.images import ImageInfo

DEFAULT_REGISTRY = "default"


def _insert(session: AsyncSession, model: Any) -> Any:
    """The dialect's INSERT, for ON CONFLICT DO NOTHING (safe when several workers create
    the same row)."""
    return conflict_insert(session.get_bind().dialect.name, model)


async def ensure_registry(session: AsyncSession, url: str, now: datetime) -> int:
    await session.execute(
        _insert(session, Registry)
        .values(name=DEFAULT_REGISTRY, url=url, created_at=now)
        .on_conflict_do_nothing()
    )
    registry = await session.scalar(select(Registry).where(Registry.name == DEFAULT_REGISTRY))
    assert registry is not None
    if registry.url != url:
        registry.url = url
    return registry.id


async def registry_id(session: AsyncSession, url: str | None, now: datetime) -> int:
    """The registry's id: :func:`ensure_registry` with a URL; without one (a server whose
    settings name no registry), the one recorded already, or a new one without a URL."""
    if url:
        return await ensure_registry(session, url, now)
    found = await session.scalar(select(Registry.id).where(Registry.name == DEFAULT_REGISTRY))
    return found if found is not None else await ensure_registry(session, "", now)


async def repositories_by_name(
    session: AsyncSession, registry_id: int, names: Iterable[str], *, with_tags: bool = True
) -> dict[str, Repository]:
    names = list(set(names))
    if not names:
        return {}
    query = select(Repository).where(
        Repository.registry_id == registry_id, Repository.name.in_(names)
    )
    if with_tags:
        query = query.options(selectinload(Repository.tags))
    rows = await session.scalars(query)
    return {repo.name: repo for repo in rows.all()}


async def tags_of(
    session: AsyncSession, wanted: dict[int, tuple[set[str], set[str]]]
) -> dict[int, dict[str, Tag]]:
    """Only these tags, by repository id: the ones named, and every one on a digest named
    (two indexed queries per 200 repositories, whatever the repositories' sizes)."""
    found: dict[int, dict[str, Tag]] = {repo_id: {} for repo_id in wanted}
    repo_ids = sorted(wanted)
    for start in range(0, len(repo_ids), 200):
        chunk = repo_ids[start : start + 200]
        names = {name for repo_id in chunk for name in wanted[repo_id][0]}
        digests = {digest for repo_id in chunk for digest in wanted[repo_id][1]}
        queries = []
        if names:
            queries.append(Tag.name.in_(sorted(names)))
        if digests:
            queries.append(Tag.digest.in_(sorted(digests)))
        for condition in queries:
            rows = await session.scalars(select(Tag).where(Tag.repository_id.in_(chunk), condition))
            for tag in rows.all():
                named, on_digests = wanted[tag.repository_id]
                if tag.name in named or tag.digest in on_digests:
                    found[tag.repository_id][tag.name] = tag
    return found


async def has_tags(session: AsyncSession, repository_id: int) -> bool:
    found = await session.scalar(select(Tag.id).where(Tag.repository_id == repository_id).limit(1))
    return found is not None


async def ensure_repositories(
    session: AsyncSession,
    registry_id: int,
    names: Iterable[str],
    now: datetime,
    *,
    with_tags: bool = True,
) -> tuple[dict[str, Repository], set[str]]:
    """The repositories (namespaces and repositories created as needed, in a few statements
    whatever their number), with their tags loaded if asked; and the names this call
    created."""
    names = sorted(set(names))
    if not names:
        return {}, set()
    namespaces = sorted({namespace_of(name) for name in names})
    await session.execute(
        _insert(session, Namespace).on_conflict_do_nothing(),
        [
            {
                "registry_id": registry_id,
                "name": ns,
                # Everyone may pull from the global namespace; a namespace the registry
                # created on a push is private to the admins (accounts.policy).
                "visibility": (
                    Visibility.PUBLIC if ns == GLOBAL_NAMESPACE else Visibility.PRIVATE
                ).value,
                "created_at": now,
            }
            for ns in namespaces
        ],
    )
    rows = await session.execute(
        select(Namespace.name, Namespace.id).where(
            Namespace.registry_id == registry_id, Namespace.name.in_(namespaces)
        )
    )
    namespace_ids = {ns: ns_id for ns, ns_id in rows}
    inserted = await session.execute(
        _insert(session, Repository).on_conflict_do_nothing().returning(Repository.name),
        [
            {
                "registry_id": registry_id,
                "namespace_id": namespace_ids[namespace_of(name)],
                "name": name,
                "created_at": now,
                "updated_at": now,
            }
            for name in names
        ],
    )
    created = set(inserted.scalars().all())
    query = select(Repository).where(
        Repository.registry_id == registry_id, Repository.name.in_(names)
    )
    if with_tags:
        query = query.options(selectinload(Repository.tags))
    repos = await session.scalars(query.execution_options(populate_existing=True))
    return {repo.name: repo for repo in repos.all()}, created


def apply_image(tag: Tag, image: ImageInfo) -> None:
    tag.digest = image.digest
    tag.media_type = image.media_type
    tag.config_digest = image.config_digest
    tag.size = image.size
    tag.platforms = image.platforms
    tag.image_created_at = image.created
    tag.described = image.described


def new_tag(repository_id: int, name: str, image: ImageInfo, now: datetime) -> dict[str, Any]:
    """A new tag row's values, for a bulk insert (the ORM's defaults do not apply there)."""
    return {
        "repository_id": repository_id,
        "name": name,
        "digest": image.digest,
        "media_type": image.media_type,
        "config_digest": image.config_digest,
        "size": image.size,
        "platforms": image.platforms,
        "image_created_at": image.created,
        "described": image.described,
        "scan_state": TagScanState.PENDING.value,
        "source_at": now,
        "created_at": now,
        "updated_at": now,
    }


def image_of(tag: Tag) -> ImageInfo:
    return ImageInfo(
        digest=tag.digest,
        media_type=tag.media_type or "",
        config_digest=tag.config_digest,
        size=tag.size,
        platforms=list(tag.platforms or []),
        created=tag.image_created_at,
        described=tag.described,
    )


async def known_images(session: AsyncSession, digests: Iterable[str]) -> dict[str, ImageInfo]:
    """Images the index already describes, by digest (so they need no registry round trip)."""
    digests = list(set(digests))
    if not digests:
        return {}
    rows = await session.scalars(
        select(Tag).where(
            Tag.digest.in_(digests), Tag.media_type.is_not(None), Tag.described.is_(True)
        )
    )
    return {tag.digest: image_of(tag) for tag in rows.all()}


async def undescribed_images(session: AsyncSession, digests: Iterable[str]) -> dict[str, ImageInfo]:
    """Images some tag still shows undescribed, by digest (what the manifest alone told)."""
    digests = sorted(set(digests))
    found: dict[str, ImageInfo] = {}
    for start in range(0, len(digests), 500):
        rows = await session.scalars(
            select(Tag).where(
                Tag.digest.in_(digests[start : start + 500]), Tag.described.is_(False)
            )
        )
        for tag in rows.all():
            found.setdefault(tag.digest, image_of(tag))
    return found


_TAGS = cast(Table, Tag.__table__)
_DESCRIBED = (  # Core, run with many parameter sets (executemany)
    update(_TAGS)
    .where(_TAGS.c.digest == bindparam("image_digest"), _TAGS.c.described.is_(False))
    .values(
        size=bindparam("size"),
        platforms=bindparam("platforms"),
        image_created_at=bindparam("created"),
        described=True,
    )
)


async def write_described(session: AsyncSession, images: Iterable[ImageInfo]) -> None:
    """Write described images to every tag still on their digest and undescribed (a tag
    moved meanwhile is left alone), in one executemany."""
    params = [
        {
            "image_digest": image.digest,
            "size": image.size,
            "platforms": image.platforms,
            "created": image.created,
        }
        for image in images
    ]
    if params:
        await session.execute(_DESCRIBED, params)


def activity(
    kind: ActivityKind,
    at: datetime,
    *,
    actor: str | None,
    repository: str | None = None,
    tag: str | None = None,
    digest: str | None = None,
    **details: Any,
) -> dict[str, Any]:
    """An activity row's values (see :func:`record` and :func:`insert_activities`)."""
    return {
        "at": at,
        "kind": kind.value,
        "actor": actor,
        "repository": repository,
        "namespace": namespace_of(repository) if repository is not None else None,
        "tag": tag,
        "digest": digest,
        "details": details,
    }


def record(
    session: AsyncSession, kind: ActivityKind, at: datetime, *, actor: str | None, **fields: Any
) -> None:
    """Add an activity to the session; ``fields`` as :func:`activity` takes them."""
    session.add(Activity(**activity(kind, at, actor=actor, **fields)))


async def insert_activities(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Many activities in one statement (no ORM objects: nothing reads their ids back)."""
    if rows:
        await session.execute(insert(Activity), rows)


async def tags_on_digest(session: AsyncSession, digest: str) -> list[tuple[str, str]]:
    """(repository, tag) of every tag on a digest, sorted."""
    return (await tags_on_digests(session, [digest])).get(digest, [])


async def tags_on_digests(
    session: AsyncSession, digests: list[str]
) -> dict[str, list[tuple[str, str]]]:
    """:func:`tags_on_digest` for many digests, in a query per 500 of them."""
    found: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(digests), 500):
        rows = await session.execute(
            select(Tag.digest, Repository.name, Tag.name)
            .join(Tag, Tag.repository_id == Repository.id)
            .where(Tag.digest.in_(digests[start : start + 500]))
            .order_by(Tag.digest, Repository.name, Tag.name)
        )
        for digest, repository, tag in rows.all():
            found.setdefault(digest, []).append((repository, tag))
    return found


async def repository_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Repository)) or 0)


async def export(session: AsyncSession) -> dict[str, Any]:
    """The whole index as plain data, sorted by name."""
    rows = await session.scalars(
        select(Repository).options(selectinload(Repository.tags)).order_by(Repository.name)
    )
    return {
        "repositories": [
            {
                "name": repo.name,
                "tags": [
                    {
                        "name": tag.name,
                        "digest": tag.digest,
                        "media_type": tag.media_type,
                        "size": tag.size,
                        "platforms": tag.platforms,
                        "author": tag.author,
                        "pushed_at": tag.pushed_at.isoformat() if tag.pushed_at else None,
                        "pulled_at": tag.pulled_at.isoformat() if tag.pulled_at else None,
                    }
                    for tag in sorted(repo.tags, key=lambda t: t.name)
                ],
            }
            for repo in rows.all()
        ]
    }
