"""The CVE allowlist over JSON: ``GET/POST /api/v1/exceptions``, ``DELETE
/api/v1/exceptions/{id}`` (:mod:`portside.security.exceptions`).

Who may do what: anyone who may read sees the global exceptions and those of the namespaces
it may read; global ones are added and removed by admins; a namespace's by the owners of its
team (and admins). An exception in a namespace the caller may not read answers 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from portside.api.accounts_api import Account
from portside.api.deps import ReadSession, ServicesDep
from portside.db.models import VulnerabilityException
from portside.index.names import NAMESPACE_NAME
from portside.security import exceptions
from portside.web.access import PrincipalDep, Reader

router = APIRouter(prefix="/api/v1", tags=["exceptions"])


class ExceptionCreate(BaseModel):
    vulnerability: str = Field(
        min_length=1,
        max_length=exceptions.MAX_ID,
        description="An advisory id or any alias (CVE-2021-44228), any case",
    )
    namespace: str | None = Field(
        default=None,
        max_length=255,
        pattern=f"^({NAMESPACE_NAME.pattern})?$",
        description='A namespace ("" the global one); null: everywhere (admins only)',
    )
    reason: str = Field(min_length=1, max_length=exceptions.MAX_REASON)
    expires_in_days: int = Field(
        default=exceptions.DEFAULT_DAYS, ge=1, le=exceptions.MAX_DAYS, description="1..365"
    )


class ExceptionPublic(BaseModel):
    id: int
    vulnerability: str
    namespace: str | None = Field(description="null: global")
    reason: str
    created_by: str = Field(description='A user name, "admin-token", or "cli:LOGIN"')
    created_at: datetime
    expires_at: datetime
    expired: bool


def public(row: VulnerabilityException, now: datetime) -> ExceptionPublic:
    return ExceptionPublic(
        id=row.id,
        vulnerability=row.vulnerability,
        namespace=row.namespace,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        expired=row.expires_at <= now,
    )


@router.get("/exceptions", response_model=list[ExceptionPublic], dependencies=Reader)
async def list_exceptions(
    session: ReadSession,
    principal: PrincipalDep,
    active: Annotated[bool, Query(description="Only those in force (not expired)")] = False,
) -> list[ExceptionPublic]:
    """The exceptions the caller may see, by id (expired ones too, marked, unless ``active``)."""
    now = datetime.now(UTC)
    rows = await exceptions.listed_for(session, principal, now, expired=not active)
    return [public(row, now) for row in rows]


@router.post("/exceptions", response_model=ExceptionPublic, status_code=status.HTTP_201_CREATED)
async def add_exception(
    body: ExceptionCreate, services: ServicesDep, principal: Account
) -> ExceptionPublic:
    """Allow a vulnerability everywhere (admins) or in one namespace (its team's owners)."""
    now = datetime.now(UTC)
    async with services.db.write() as session:
        row = await exceptions.add_as(
            session,
            principal,
            body.vulnerability,
            namespace=body.namespace,
            reason=body.reason,
            days=body.expires_in_days,
            now=now,
        )
        return public(row, now)


@router.delete("/exceptions/{number}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_exception(
    number: Annotated[int, Path(ge=1, le=2**62)], services: ServicesDep, principal: Account
) -> None:
    """Remove an exception: its findings count again at once."""
    async with services.db.write() as session:
        await exceptions.remove_as(session, principal, number)
