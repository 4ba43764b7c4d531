"""The request's services and read session, as ``Annotated`` aliases for both the API and
the pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from portside.reads.overview import CountsCache
from portside.services import Services


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_read_session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.db.read() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(get_read_session)]


async def get_counts_cache(request: Request) -> CountsCache:
    cache: CountsCache = request.app.state.counts_cache
    return cache


CountsCacheDep = Annotated[CountsCache, Depends(get_counts_cache)]
