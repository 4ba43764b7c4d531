"""Downloading one OSV archive: the only module that talks to the archive servers.

``http(s)://`` sources are fetched with aiohttp and a conditional request (``If-None-Match``
with the last ETag, ``If-Modified-Since`` with the last ``Last-Modified``); ``file://`` sources
(an air-gapped mirror on a mounted disk) are compared by size and modification time. Either
way the archive is streamed to a temporary file in the given folder, never over ``max_bytes``;
a truncated body, an answer other than 200 or 304, a timeout or a refused connection raise
:class:`FetchFailed` (aiohttp's own errors are its ``__cause__``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

from portside import USER_AGENT
from portside.security.advisories.errors import VulnDataError

CHUNK = 256 * 1024
Progress = Callable[[int, int | None], None]  # (bytes so far, total when known)


class FetchFailed(VulnDataError):
    """An archive could not be downloaded (its stored data is left as it was)."""


@dataclass(frozen=True)
class Validators:
    """What the last successful fetch answered, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    path: Path | None  # the downloaded archive (the caller removes it); None: not modified
    validators: Validators
    size: int = 0

    @property
    def not_modified(self) -> bool:
        return self.path is None


async def fetch(
    url: str,
    into: Path,
    known: Validators,
    *,
    max_bytes: int,
    time_limit: float,
    progress: Progress | None = None,
) -> Fetched:
    """The archive at ``url`` in a temporary file under ``into``, unless it has not changed
    since ``known``."""
    await asyncio.to_thread(into.mkdir, parents=True, exist_ok=True)
    if url.startswith("file://"):
        return await asyncio.to_thread(_fetch_file, url, into, known, max_bytes, progress)
    try:
        return await asyncio.wait_for(
            _fetch_http(url, into, known, max_bytes, progress), timeout=time_limit
        )
    except TimeoutError as exc:
        raise FetchFailed(f"no complete answer within {time_limit:g} s") from exc


def _temporary(into: Path) -> tuple[int, Path]:
    fd, name = tempfile.mkstemp(prefix="osv-download-", suffix=".zip", dir=into)
    return fd, Path(name)


async def _fetch_http(
    url: str, into: Path, known: Validators, max_bytes: int, progress: Progress | None
) -> Fetched:
    headers = {"User-Agent": USER_AGENT}
    if known.etag:
        headers["If-None-Match"] = known.etag
    if known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers=headers, auto_decompress=False) as response,
        ):
            if response.status == 304:
                return Fetched(None, known)
            if response.status != 200:
                raise FetchFailed(f"HTTP {response.status} {response.reason or ''}".strip())
            total = response.content_length
            if total is not None and total > max_bytes:
                raise FetchFailed(f"{total} bytes, over the {max_bytes}-byte limit")
            validators = Validators(
                response.headers.get("ETag"), response.headers.get("Last-Modified")
            )
            path, size = await _stream(response, into, max_bytes, total, progress)
            return Fetched(path, validators, size)
    except aiohttp.ClientPayloadError as exc:
        raise FetchFailed(f"truncated or corrupt answer: {exc}") from exc
    except aiohttp.InvalidURL as exc:
        raise FetchFailed(f"not a usable URL: {exc}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise FetchFailed(f"cannot fetch: {type(exc).__name__}: {exc}") from exc


async def _stream(
    response: aiohttp.ClientResponse,
    into: Path,
    max_bytes: int,
    total: int | None,
    progress: Progress | None,
) -> tuple[Path, int]:
    """The body in a temporary file (removed again if anything goes wrong) and its size."""
    fd, path = _temporary(into)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchFailed(f"over the {max_bytes}-byte limit")
                out.write(chunk)
                if progress is not None:
                    progress(size, total)
        if total is not None and size != total:
            raise FetchFailed(f"truncated: {size} of {total} bytes")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size


def _fetch_file(
    url: str, into: Path, known: Validators, max_bytes: int, progress: Progress | None
) -> Fetched:
    source = Path(unquote(urlsplit(url).path))
    try:
        stat = source.stat()
    except OSError as exc:
        raise FetchFailed(f"{source}: {exc.strerror or exc}") from exc
    if not source.is_file():
        raise FetchFailed(f"{source}: not a file")
    # A file has no ETag: its size and modification time stand in for one.
    validators = Validators(f'"{stat.st_size}-{stat.st_mtime_ns}"', None)
    if known.etag == validators.etag:
        return Fetched(None, known)
    if stat.st_size > max_bytes:
        raise FetchFailed(f"{stat.st_size} bytes, over the {max_bytes}-byte limit")
    fd, path = _temporary(into)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchFailed(f"over the {max_bytes}-byte limit (it grew while read)")
                out.write(chunk)
                if progress is not None:
                    progress(size, stat.st_size)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise FetchFailed(f"{source}: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return Fetched(path, validators, size)
