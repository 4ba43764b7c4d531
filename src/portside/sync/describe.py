"""Describing the images a sync recorded from their manifests alone.

The walk records a new image from its manifest (digest, media type, size), so the index is
complete as soon as the catalog has been read. What only the config blob tells (platform,
creation time), or an index's platform manifests (their sizes), is read afterwards by
:func:`describe_pending`: off the walk, once per digest, once per config digest. A config blob
costs Debian's registry more CPU than a manifest (measured by bench/sync_walk.py, in
docs/benchmarks.md), so this is most of a first sync's registry work, and it need not hold up
the index.

Rows are updated only while they still name the digest that was read and are still
undescribed, so an event that moved the tag meanwhile is never overwritten.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from portside.db.engine import Database
from portside.db.models import Repository, Tag
from portside.errors import PortsideError
from portside.index.store import image_of
from portside.registry.client import RegistryClient
from portside.registry.images import ImageInfo, complete

PAGE = 500  # undescribed tags read, described and written per round


@dataclass
class DescribeReport:
    images: int = 0  # digests described
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    duration: float = 0.0


async def describe_pending(
    db: Database,
    client: RegistryClient,
    *,
    concurrency: int,
    on_page: Callable[[int], Awaitable[None]] | None = None,
    max_errors: int = 20,
) -> DescribeReport:
    """Describe every undescribed image in the index; an image that fails stays undescribed
    (the next sync tries again) and never stops the others. Failures are returned, for the
    caller to report."""
    report = DescribeReport()
    started, requests_before = time.monotonic(), client.stats.requests
    configs: dict[str, dict[str, Any]] = {}
    limit = asyncio.Semaphore(concurrency)
    after = 0
    while True:
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(Tag, Repository.name)
                    .join(Repository, Repository.id == Tag.repository_id)
                    .where(Tag.described.is_(False), Tag.id > after)
                    .order_by(Tag.id)
                    .limit(PAGE)
                )
            ).all()
        if not rows:
            break
        after = rows[-1][0].id
        by_digest: dict[str, tuple[str, ImageInfo]] = {}
        tag_ids: dict[str, list[int]] = {}
        for tag, repository in rows:
            by_digest.setdefault(tag.digest, (repository, image_of(tag)))
            tag_ids.setdefault(tag.digest, []).append(tag.id)

        async def one(repository: str, image: ImageInfo) -> ImageInfo | None:
            async with limit:
                try:
                    return await complete(client, repository, image, configs)
                except PortsideError as exc:
                    if len(report.errors) < max_errors:
                        report.errors.append(f"describing {repository}@{image.digest}: {exc}")
                    return None

        described = [
            image
            for image in await asyncio.gather(*(one(r, i) for r, i in by_digest.values()))
            if image is not None
        ]
        report.images += len(described)
        await _write(db, described, tag_ids)
        if on_page is not None:
            await on_page(report.images)
    report.requests = client.stats.requests - requests_before
    report.duration = time.monotonic() - started
    return report


_TAGS = cast(Table, Tag.__table__)
_UPDATE = (  # Core, run with many parameter sets (executemany)
    update(_TAGS)
    .where(
        _TAGS.c.id == bindparam("tag_id"),
        _TAGS.c.digest == bindparam("tag_digest"),
        _TAGS.c.described.is_(False),
    )
    .values(
        size=bindparam("size"),
        platforms=bindparam("platforms"),
        image_created_at=bindparam("created"),
        described=True,
    )
)


async def _write(db: Database, images: list[ImageInfo], tag_ids: dict[str, list[int]]) -> None:
    params = [
        {
            "tag_id": tag_id,
            "tag_digest": image.digest,
            "size": image.size,
            "platforms": image.platforms,
            "created": image.created,
        }
        for image in images
        for tag_id in tag_ids[image.digest]
    ]
    if params:
        async with db.write() as session:
            await session.execute(_UPDATE, params)
