"""Dependencies shared by the routers, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from portside.api.schemas import MAX_ROW_ID
from portside.services import Services


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_read_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.db.read() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(get_read_session)]


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


# Dependencies are async functions: FastAPI runs plain ``def`` ones in a thread pool.
async def get_paging(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
    per_page: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
) -> Paging:
    return Paging(page, per_page)


PagingDep = Annotated[Paging, Depends(get_paging)]


# Row ids: 64-bit, so an id out of range is a 422, not a database overflow.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
