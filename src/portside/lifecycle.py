"""The one lifecycle of Portside's long-lived resources (the database, the registry client,
the webhook sender, the event ingestor): nothing happens in ``__init__``; :meth:`open` starts
it, :meth:`close` stops it, and ``async with`` does both, closing even on error."""

from __future__ import annotations

from typing import Self


class Resource:
    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
