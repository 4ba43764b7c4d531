"""The outgoing-webhooks task: fan activities out into deliveries, then deliver them.

Fan-out follows a cursor over the (append-only) activities, in one transaction with the
deliveries it creates, so each activity is fanned out once even with several background
processes (the cursor row is locked). Deliveries are claimed with a short lease, sent
concurrently, and retried with backoff; the event task never waits for any of it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portside.background.retry import backoff
from portside.background.runtime import TaskRun
from portside.db.conflict import conflict_insert
from portside.db.engine import Database
from portside.db.models import Activity, Cursor, Webhook, WebhookDelivery
from portside.outgoing.fanout import ActivityFacts, Hook, payload, targets
from portside.outgoing.sender import Attempt, Sender, Shape
from portside.settings import OutgoingTaskSettings, OutgoingWebhookSettings

log = logging.getLogger(__name__)

CURSOR = "webhooks"
FANOUT_BATCH = 500
DELIVERY_BATCH = 20


async def sync_configured(
    db: Database, hooks: list[OutgoingWebhookSettings], now: datetime
) -> None:
    """Make the webhooks from the settings file match the table (API-made ones stay)."""
    async with db.write() as session:
        rows = {w.name: w for w in (await session.scalars(select(Webhook))).all()}
        for hook in hooks:
            row = rows.get(hook.name)
            if row is None:
                row = Webhook(name=hook.name, created_at=now, from_settings=True, enabled=True)
                session.add(row)
            row.url, row.secret = hook.url, hook.secret.get_secret_value()
            row.namespaces, row.kinds = hook.namespaces, [k.value for k in hook.kinds]
        names = {hook.name for hook in hooks}
        for name, row in rows.items():
            if row.from_settings and name not in names:
                await session.delete(row)


async def fan_out(session: AsyncSession, now: datetime) -> int:
    dialect = session.get_bind().dialect.name
    start = await session.scalar(select(func.coalesce(func.max(Activity.id), 0)))
    await session.execute(
        conflict_insert(dialect, Cursor)
        .values(name=CURSOR, position=start)
        .on_conflict_do_nothing()
    )
    position = await session.scalar(
        select(Cursor.position).where(Cursor.name == CURSOR).with_for_update()
    )
    assert position is not None
    activities = (
        await session.scalars(
            select(Activity).where(Activity.id > position).order_by(Activity.id).limit(FANOUT_BATCH)
        )
    ).all()
    if not activities:
        return 0
    hooks = [
        Hook(w.id, w.namespaces, frozenset(w.kinds))
        for w in (await session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))).all()
    ]
    created = 0
    for activity in activities:
        facts = ActivityFacts(
            activity.id,
            activity.kind,
            activity.at.isoformat(),
            activity.actor,
            activity.repository,
            activity.tag,
            activity.digest,
            activity.details or {},
        )
        for hook_id in targets(facts, hooks):
            session.add(
                WebhookDelivery(
                    webhook_id=hook_id,
                    activity_id=activity.id,
                    kind=payload(facts)["event"],
                    payload=payload(facts),
                    status="pending",
                    attempts=0,
                    available_at=now,
                    created_at=now,
                )
            )
            created += 1
    await session.execute(
        update(Cursor).where(Cursor.name == CURSOR).values(position=activities[-1].id)
    )
    return created


class WebhooksTask:
    name = "webhooks"

    def __init__(
        self,
        db: Database,
        settings: OutgoingTaskSettings,
        configured: list[OutgoingWebhookSettings],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db = db
        self.settings = settings
        self.configured = configured
        self.interval = settings.interval
        self.clock = clock
        self._synced = False
        self._seen: int | None = None  # the cursor after our last fan-out
        self.totals = {"delivered": 0, "retried": 0, "failed": 0}

    async def run_once(self) -> TaskRun:
        now = self.clock()
        if not self._synced:
            await sync_configured(self.db, self.configured, now)
            self._synced = True
        if await self._idle(now):
            return TaskRun(details={"created": 0, "sent": 0, "totals": dict(self.totals)})
        async with self.db.write() as session:
            created = await fan_out(session, now)
            claimed = await self._claim(session, now)
            # Where the fan-out stopped (it takes FANOUT_BATCH activities at a time).
            self._seen = await session.scalar(select(Cursor.position).where(Cursor.name == CURSOR))
        if claimed:
            async with Sender(self.settings.timeout) as sender:
                attempts = await asyncio.gather(
                    *(
                        sender.send(
                            hook.url,
                            hook.secret,
                            d.kind,
                            d.id,
                            json.dumps(d.payload).encode(),
                            shape_of(hook),
                        )
                        for d, hook in claimed
                    )
                )
            async with self.db.write() as session:
                for (delivery, _), attempt in zip(claimed, attempts, strict=True):
                    await self._record(session, delivery, attempt, self.clock())
        return TaskRun(
            more=bool(claimed) or created > 0,
            changed=bool(claimed) or created > 0,
            details={"created": created, "sent": len(claimed), "totals": dict(self.totals)},
        )

    async def _idle(self, now: datetime) -> bool:
        """Nothing past the cursor at our last fan-out and no delivery due: no write transaction (on
        SQLite it would take the write lock every few seconds for nothing)."""
        if self._seen is None:
            return False
        async with self.db.read() as session:
            newest = await session.scalar(select(func.max(Activity.id))) or 0
            due = await session.scalar(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.available_at <= now)
                .limit(1)
            )
        return newest <= self._seen and due is None

    async def _claim(
        self, session: AsyncSession, now: datetime
    ) -> list[tuple[WebhookDelivery, Webhook]]:
        rows = (
            await session.execute(
                select(WebhookDelivery, Webhook)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.available_at <= now)
                .order_by(WebhookDelivery.id)
                .limit(DELIVERY_BATCH)
                .with_for_update(skip_locked=True, of=WebhookDelivery)
            )
        ).all()
        lease = now + timedelta(seconds=self.settings.timeout * 3)
        for delivery, _ in rows:
            delivery.available_at = lease  # a lease: a worker that dies mid-send frees it
            delivery.attempts += 1
        return [(d, w) for d, w in rows]

    async def _record(
        self, session: AsyncSession, delivery: WebhookDelivery, attempt: Attempt, now: datetime
    ) -> None:
        values: dict[str, object] = {
            "last_status": attempt.status,
            "last_response": attempt.response,
            "last_error": attempt.error,
        }
        if attempt.delivered:
            values.update(status="done", delivered_at=now)
            self.totals["delivered"] += 1
        elif delivery.attempts >= self.settings.max_attempts:
            values.update(status="failed")
            self.totals["failed"] += 1
            log.warning(
                "webhook delivery %d failed for good: %s",
                delivery.id,
                attempt.error or attempt.status,
                extra={
                    "task": "webhooks",
                    "delivery": delivery.id,
                    "webhook": delivery.webhook_id,
                    "kind": delivery.kind,
                    "attempts": delivery.attempts,
                    "status": attempt.status,
                    "error": attempt.error,
                },
            )
        else:
            delay = backoff(
                delivery.attempts, self.settings.backoff_base, self.settings.backoff_max
            )
            values.update(available_at=now + delay)
            self.totals["retried"] += 1
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
        )


def shape_of(hook: Webhook) -> Shape:
    """How the hook's requests are made (the columns a webhook from Portus fills)."""
    return Shape(
        method=hook.method or "POST",
        content_type=hook.content_type or "application/json",
        username=hook.username,
        password=hook.password,
        headers=dict(hook.headers or {}),
    )
