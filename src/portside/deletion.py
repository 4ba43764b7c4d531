"""Deleting tags and repositories: in the registry first, then in the index, with activities.

The registry deletes manifests, not tags: deleting a tag's digest untags every tag on that
digest (Portus deleted a `latest` together with a snapshot tag this way, #2238). So deleting one
tag whose digest other tags share is refused, naming them, unless the caller says
``with_siblings``.

A name in the index that is not a valid distribution name (a row from before names were
checked where they enter) is never sent to the registry, where a resolved ``..`` could reach
another repository: such a tag or repository is removed from the index only, and the result
says so (``index_only``). So is a tag on an invalid digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portside.db.engine import Database
from portside.db.models import Repository, Tag
from portside.errors import InvalidName, PortsideError, RegistryNotFound, RegistryRejected
from portside.index.names import is_valid_digest, is_valid_repository, is_valid_tag, shown
from portside.index.writes import IndexWrites, Origin
from portside.registry.client import RegistryClient


class DeletionRefused(PortsideError):
    """A deletion that would take more than asked, or that the registry does not allow."""


@dataclass
class Deleted:
    repository: str
    tags: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    repository_removed: bool = False
    index_only: str = ""  # why the registry was not asked (an invalid name), or ""


def index_only_reason(repository: str, tag: str | None = None, digest: str | None = None) -> str:
    """Why a deletion must not reach the registry, or "" when it may (pure)."""
    if not is_valid_repository(repository):
        return f"{shown(repository)} is not a valid repository name"
    if tag is not None and not is_valid_tag(tag):
        return f"{shown(tag)} is not a valid tag"
    if digest is not None and not is_valid_digest(digest):
        return f"{shown(digest)} is not a valid digest"
    return ""


def _not_indexed(what: str, repository: str, tag: str | None = None) -> PortsideError:
    """Not in the index: an invalid name is named as such (it could be nowhere else)."""
    reason = index_only_reason(repository, tag)
    if reason:
        return InvalidName(f"{reason}, and it is not in the index")
    return DeletionRefused(f"{what} is not in the index")


def siblings_of(tags: list[Tag], tag: Tag) -> list[str]:
    """The other tags of the repository on the same digest (pure)."""
    return sorted(t.name for t in tags if t.digest == tag.digest and t.name != tag.name)


async def _delete_manifest(client: RegistryClient, repository: str, digest: str) -> None:
    try:
        await client.delete_manifest(repository, digest)
    except RegistryNotFound:
        pass  # already gone from the registry: the index follows
    except RegistryRejected as exc:
        if exc.status in (405, 400) or "UNSUPPORTED" in str(exc):
            raise DeletionRefused(
                f"the registry does not allow deletes ({exc}); enable them in its config.yml: "
                "storage: {delete: {enabled: true}}"
            ) from exc
        raise


async def _load(db: Database, repository: str) -> Repository | None:
    async with db.read() as session:
        return await session.scalar(
            select(Repository)
            .where(Repository.name == repository)
            .options(selectinload(Repository.tags))
        )


async def delete_tag(
    db: Database,
    client: RegistryClient,
    repository: str,
    tag: str,
    *,
    with_siblings: bool,
    actor: str,
) -> Deleted:
    repo = await _load(db, repository)
    target = next((t for t in repo.tags if t.name == tag), None) if repo else None
    if repo is None or target is None:
        raise _not_indexed(f"{repository}:{tag}", repository, tag)
    reason = index_only_reason(repository, tag, target.digest)
    if reason:  # a junk row: only it goes, and only from the index
        deleted = await _remove(db, repository, {target.digest}, actor, only_tag=tag)
        deleted.index_only = reason
        return deleted
    siblings = siblings_of(repo.tags, target)
    if siblings and not with_siblings:
        raise DeletionRefused(
            f"{repository}:{tag} shares its digest {target.digest} with "
            f"{', '.join(siblings)}: the registry would delete those too; "
            "pass with_siblings to delete them all"
        )
    await _delete_manifest(client, repository, target.digest)
    return await _remove(db, repository, {target.digest}, actor)


async def delete_repository(
    db: Database, client: RegistryClient, repository: str, *, actor: str
) -> Deleted:
    repo = await _load(db, repository)
    if repo is None:
        raise _not_indexed(repository, repository)
    digests = {t.digest for t in repo.tags}
    reason = index_only_reason(repository)
    if not reason:
        for digest in sorted(d for d in digests if is_valid_digest(d)):
            await _delete_manifest(client, repository, digest)
    deleted = await _remove(db, repository, digests, actor, whole=True)
    deleted.index_only = reason
    return deleted


async def delete_digests(
    db: Database, client: RegistryClient, repository: str, digests: set[str], *, actor: str
) -> Deleted:
    """Delete these manifests of a repository, and every tag on them (an invalid repository
    name or digest: from the index only)."""
    reason = index_only_reason(repository)
    if not reason:
        for digest in sorted(d for d in digests if is_valid_digest(d)):
            await _delete_manifest(client, repository, digest)
    deleted = await _remove(db, repository, digests, actor)
    deleted.index_only = reason
    return deleted


async def _remove(
    db: Database,
    repository: str,
    digests: set[str],
    actor: str,
    *,
    whole: bool = False,
    only_tag: str | None = None,
) -> Deleted:
    now = datetime.now(UTC)
    result = Deleted(repository, digests=sorted(digests))
    async with db.write() as session:
        repo = await session.scalar(
            select(Repository)
            .where(Repository.name == repository)
            .options(selectinload(Repository.tags))
        )
        if repo is None:  # the registry's delete events were faster
            return result
        writes = IndexWrites(session, now)
        origin = Origin(actor, now, source="portside")
        for tag in [t for t in repo.tags if t.digest in digests and only_tag in (None, t.name)]:
            writes.remove(repo, tag, origin)
            result.tags.append(tag.name)
        if whole or not repo.tags:
            await writes.drop_repository(repo, origin)
            result.repository_removed = True
        await writes.finish()
    result.tags.sort()
    return result


async def indexed_tags(db: Database, repository: str) -> list[tuple[str, str]] | None:
    """The repository's tags and their digests in the index, or None when it is not there
    (what a deletion would take, for a dry run or a confirmation)."""
    repo = await _load(db, repository)
    return None if repo is None else sorted((t.name, t.digest) for t in repo.tags)
