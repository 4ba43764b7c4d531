"""Outgoing webhooks: register, list, remove (admin), and their delivery log.

A webhook's secret is written, never read back: answers say ``has_secret``, and show the URL
with its credentials masked (a password in it, or a token in its query)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, field_validator

from portside.api.deps import PagingDep, ReadSession, RowId, ServicesDep
from portside.api.errors import NotFound
from portside.api.schemas import Page
from portside.db.models import Webhook
from portside.deletion import DeletionRefused
from portside.outgoing import store
from portside.redact import redact_text, redact_url
from portside.settings import WebhookKind
from portside.web.access import Admin, Reader

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=Reader)


class WebhookCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    url: str = Field(max_length=2048)
    secret: str = Field(
        min_length=8, max_length=255, description="Key of the X-Portside-Signature-256 HMAC."
    )
    namespaces: str = Field(default="*", min_length=1, max_length=255)
    kinds: list[WebhookKind] = Field(default_factory=lambda: list(WebhookKind), max_length=16)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("name", "url", "secret", "namespaces")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ValueError("must not contain control characters")
        return value


class WebhookPublic(BaseModel):
    id: int
    name: str
    url: str = Field(description="The URL, its credentials masked.")
    has_secret: bool
    namespaces: str
    kinds: list[str]
    enabled: bool
    from_settings: bool
    created_at: datetime


class DeliveryPublic(BaseModel):
    id: int
    kind: str
    activity_id: int
    status: str
    attempts: int
    last_status: int | None
    last_response: str | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    available_at: datetime


def _public(hook: Webhook) -> WebhookPublic:
    return WebhookPublic(
        id=hook.id,
        name=hook.name,
        url=redact_url(hook.url),
        has_secret=bool(hook.secret),
        namespaces=hook.namespaces,
        kinds=hook.kinds,
        enabled=hook.enabled,
        from_settings=hook.from_settings,
        created_at=hook.created_at,
    )


@router.get("", response_model=list[WebhookPublic])
async def list_webhooks(session: ReadSession, _: Admin) -> list[WebhookPublic]:
    return [_public(hook) for hook in await store.hooks(session)]


@router.post("", response_model=WebhookPublic, status_code=status.HTTP_201_CREATED)
async def create_webhook(body: WebhookCreate, services: ServicesDep, _: Admin) -> WebhookPublic:
    async with services.db.write() as session:
        if await store.name_taken(session, body.name):
            raise DeletionRefused(f"a webhook named {body.name!r} exists already")
        hook = await store.add(
            session,
            name=body.name,
            url=body.url,
            secret=body.secret,
            namespaces=body.namespaces,
            kinds=[k.value for k in body.kinds],
            now=datetime.now(UTC),
        )
        return _public(hook)


@router.get("/{webhook_id}", response_model=WebhookPublic)
async def get_webhook(webhook_id: RowId, session: ReadSession, _: Admin) -> WebhookPublic:
    return _public(await _found(session, webhook_id))


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_webhook(webhook_id: RowId, services: ServicesDep, _: Admin) -> None:
    async with services.db.write() as session:
        hook = await _found(session, webhook_id)
        if hook.from_settings:
            raise DeletionRefused(f"{hook.name} comes from the settings file: remove it there")
        await session.delete(hook)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryPublic])
async def deliveries(
    webhook_id: RowId, session: ReadSession, paging: PagingDep, _: Admin
) -> Page[DeliveryPublic]:
    """The delivery log, newest first: status, attempts, the last answer or error."""
    await _found(session, webhook_id)
    rows, total = await store.deliveries(
        session,
        webhook_id,
        offset=(paging.page - 1) * paging.per_page,
        limit=paging.per_page,
    )
    items = [DeliveryPublic.model_validate(d, from_attributes=True) for d in rows]
    for item in items:  # a connection error names the URL
        item.last_error = redact_text(item.last_error) if item.last_error else None
    return Page(items=items, total=total, page=paging.page, per_page=paging.per_page)


async def _found(session: ReadSession, webhook_id: int) -> Webhook:
    hook = await store.hook(session, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    return hook
