"""The catalog walk: every repository, its tags, and each tag's digest by HEAD.

Streaming: catalog pages feed a bounded queue that ``concurrency`` walkers drain, and each
repository's observation is handed to ``on_repository`` as soon as it is complete, so memory
does not grow with the size of the registry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from portside.errors import RegistryError, RegistryNotFound
from portside.registry.client import Manifest, ManifestHead, RegistryClient
from portside.sync.reconcile import Observed

log = logging.getLogger(__name__)

_DONE = object()


@dataclass
class WalkResult:
    catalog_complete: bool = False
    catalog_error: str | None = None
    repositories: int = 0
    tags: int = 0


async def observe(
    client: RegistryClient, repository: str, known: Callable[[str, str], bool]
) -> Observed:
    """Read one repository's tags and their digests; any error makes it unknown.

    A tag the index knows costs a HEAD (its digest is all the sync needs); a tag it does not
    know is fetched whole at once, since the sync must describe it anyway."""
    try:
        names = await client.tags(repository)
        answers = await asyncio.gather(
            *(
                client.head_manifest(repository, tag)
                if known(repository, tag)
                else client.get_manifest(repository, tag)
                for tag in names
            ),
            return_exceptions=True,
        )
    except RegistryError as exc:
        return Observed(repository, None, error=f"{repository}: {exc}")
    tags: dict[str, str] = {}
    unknown: set[str] = set()
    manifests: dict[str, Manifest] = {}
    for tag, answer in zip(names, answers, strict=True):
        if isinstance(answer, RegistryNotFound):
            unknown.add(tag)  # deleted between the list and the HEAD: the events will tell
        elif isinstance(answer, BaseException):
            return Observed(repository, None, error=f"{repository}:{tag}: {answer}")
        elif isinstance(answer, Manifest):
            tags[tag] = answer.digest
            manifests[answer.digest] = answer
        elif isinstance(answer, ManifestHead):
            tags[tag] = answer.digest
    return Observed(repository, tags, frozenset(unknown), manifests=manifests)


async def walk(
    client: RegistryClient,
    *,
    page_size: int,
    concurrency: int,
    on_repository: Callable[[Observed], Awaitable[None]],
    known: Callable[[str, str], bool] = lambda repository, tag: True,
) -> WalkResult:
    result = WalkResult()
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=concurrency * 4)

    async def produce() -> None:
        size, produced = page_size, 0
        try:
            while True:
                try:
                    async for page in client.catalog(size):
                        for name in page:
                            produced += 1
                            await queue.put(name)
                    result.catalog_complete = True
                    return
                except RegistryError as exc:
                    # 400 PAGINATION_NUMBER_INVALID: the registry caps the page; try smaller.
                    if exc.status == 400 and size > 100 and produced == 0:
                        size = max(100, size // 10)
                        log.info("catalog page of %d refused, trying %d", size * 10, size)
                        continue
                    result.catalog_error = f"catalog: {exc}"
                    return
        finally:
            for _ in range(concurrency):
                await queue.put(_DONE)

    async def consume() -> None:
        while (item := await queue.get()) is not _DONE:
            assert isinstance(item, str)
            observed = await observe(client, item, known)
            result.repositories += 1
            result.tags += len(observed.tags or ())
            await on_repository(observed)

    await asyncio.gather(produce(), *(consume() for _ in range(concurrency)))
    return result
