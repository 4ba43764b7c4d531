"""The catalog walk: every repository, its tags, and each tag's digest by HEAD.

Streaming: catalog pages feed a bounded queue that ``concurrency`` walkers drain, and each
repository's observation is handed to ``on_repository`` as soon as it is complete, so memory
does not grow with the size of the registry.

Names are checked where they enter: a repository in the catalog or a tag in a tag list that is
not valid by the distribution grammar is skipped, counted and logged, never stored nor asked
for (so an index row of that name is, to the sync, one the registry no longer lists). A catalog
page size the registry refuses is handled by the client (asked again without ``n``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from portside.errors import RegistryError, RegistryNotFound
from portside.index.names import is_valid_repository, is_valid_tag, shown
from portside.registry.client import Manifest, ManifestHead, RegistryClient
from portside.sync.reconcile import Observed

log = logging.getLogger(__name__)

_DONE = object()
MAX_INVALID_LOGGED = 20  # invalid names logged one by one per walk; the rest are counted


def split_valid(names: list[str], valid: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """(valid, invalid) names, each in the order given (pure)."""
    good: list[str] = []
    bad: list[str] = []
    for name in names:
        (good if valid(name) else bad).append(name)
    return good, bad


@dataclass
class WalkResult:
    catalog_complete: bool = False
    catalog_error: str | None = None
    repositories: int = 0
    tags: int = 0
    invalid_names: int = 0  # repositories and tags skipped: not valid distribution names

    def skipped(self, what: str, names: list[str]) -> None:
        for name in names:
            if self.invalid_names < MAX_INVALID_LOGGED:
                log.warning(
                    "sync: skipped %s %s: not a valid name",
                    what,
                    shown(name),
                    extra={"task": "sync", "skipped": shown(name)},
                )
            self.invalid_names += 1


async def observe(
    client: RegistryClient, repository: str, known: Callable[[str, str], bool]
) -> Observed:
    """Read one repository's tags and their digests; any error makes it unknown.

    A tag the index knows costs a HEAD (its digest is all the sync needs); a tag it does not
    know is fetched whole at once, since the sync must describe it anyway."""
    try:
        names, invalid = split_valid(await client.tags(repository), is_valid_tag)
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
    invalid_tags = tuple(f"{repository}:{tag}" for tag in invalid)
    tags: dict[str, str] = {}
    unknown: set[str] = set()
    manifests: dict[str, Manifest] = {}
    for tag, answer in zip(names, answers, strict=True):
        if isinstance(answer, RegistryNotFound):
            unknown.add(tag)  # deleted between the list and the HEAD: the events will tell
        elif isinstance(answer, BaseException):
            return Observed(
                repository, None, error=f"{repository}:{tag}: {answer}", invalid=invalid_tags
            )
        elif isinstance(answer, Manifest):
            tags[tag] = answer.digest
            manifests[answer.digest] = answer
        elif isinstance(answer, ManifestHead):
            tags[tag] = answer.digest
    return Observed(repository, tags, frozenset(unknown), manifests=manifests, invalid=invalid_tags)


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
        try:
            async for page in client.catalog(page_size):
                names, invalid = split_valid(page, is_valid_repository)
                result.skipped("repository", invalid)
                for name in names:
                    await queue.put(name)
            result.catalog_complete = True
        except RegistryError as exc:
            result.catalog_error = f"catalog: {exc}"
        finally:
            for _ in range(concurrency):
                await queue.put(_DONE)

    async def consume() -> None:
        while (item := await queue.get()) is not _DONE:
            assert isinstance(item, str)
            observed = await observe(client, item, known)
            result.repositories += 1
            result.tags += len(observed.tags or ())
            result.skipped("tag", list(observed.invalid))
            await on_repository(observed)

    await asyncio.gather(produce(), *(consume() for _ in range(concurrency)))
    return result
