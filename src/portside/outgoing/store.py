"""The outgoing webhooks' rows: registered hooks and their delivery log (all the SQL the
webhooks API needs, so its router holds none)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portside.db.models import Webhook, WebhookDelivery


async def hooks(session: AsyncSession) -> Sequence[Webhook]:
    """Every registered webhook, by name."""
    return (await session.scalars(select(Webhook).order_by(Webhook.name))).all()


async def hook(session: AsyncSession, webhook_id: int) -> Webhook | None:
    return await session.get(Webhook, webhook_id)


async def name_taken(session: AsyncSession, name: str) -> bool:
    return await session.scalar(select(Webhook.id).where(Webhook.name == name)) is not None


async def add(
    session: AsyncSession,
    *,
    name: str,
    url: str,
    secret: str,
    namespaces: str,
    kinds: list[str],
    now: datetime,
) -> Webhook:
    """Register a webhook made through the API (not from the settings)."""
    row = Webhook(
        name=name,
        url=url,
        secret=secret,
        namespaces=namespaces,
        kinds=kinds,
        enabled=True,
        from_settings=False,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def deliveries(
    session: AsyncSession, webhook_id: int, *, offset: int, limit: int
) -> tuple[Sequence[WebhookDelivery], int]:
    """A page of a webhook's delivery log, newest first, and the log's length."""
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .offset(offset)
        .limit(limit)
    )
    total = await session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
    )
    return rows.all(), int(total or 0)
