"""Transactional outbox: rows written with the state change, published after commit by a relay."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, String, Uuid, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared import context, metrics, tracing
from shared.bus import EventBus
from shared.events import EXCHANGE, Event, log_fields, utcnow
from shared.sql import JSONType, MessagingBase, one_of

log = logging.getLogger(__name__)


class OutboxMessage(MessagingBase):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    event_id: Mapped[Any] = mapped_column(Uuid, unique=True)
    type: Mapped[str] = mapped_column(String(100))
    body: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    @classmethod
    def from_event(cls, event: Event) -> OutboxMessage:
        return cls(**outbox_rows([event])[0])


def outbox_rows(events: list[Event]) -> list[dict[str, Any]]:
    """The outbox rows of events (what `UnitOfWork.emit` stages): the envelope as it will be published."""
    now = utcnow()
    return [{"event_id": event.id, "type": event.type, "body": event.model_dump(mode="json"), "created_at": now}
            for event in events]


OUTBOX = OutboxMessage.__table__
UNPUBLISHED = (select(OUTBOX.c.id, OUTBOX.c.type, OUTBOX.c.body).where(OUTBOX.c.published_at.is_(None))
               .order_by(OUTBOX.c.id).limit(bindparam("limit")).with_for_update(skip_locked=True))


@functools.cache
def _mark_published(dialect: str) -> Any:
    return update(OUTBOX).where(one_of(OUTBOX.c.id, "ids", dialect)).values(published_at=bindparam("now"))


class OutboxRelay:
    """Publishes unpublished outbox rows with confirms and marks them sent.

    Rows are claimed with FOR UPDATE SKIP LOCKED, so several relays (one per instance) can run
    at once; a crash between publish and mark gives a re-publish (at-least-once), never a loss.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], bus: EventBus, *, service: str,
                 batch_size: int = 200, poll_interval: float = 1.0,
                 keep_published: timedelta = timedelta(days=1)) -> None:
        self._session_factory = session_factory
        self._bus = bus
        self._service = service
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._keep_published = keep_published
        self._wake = asyncio.Event()
        self._last_purge = utcnow()
        self._last_observed = 0.0

    def notify(self) -> None:
        self._wake.set()

    async def relay_once(self) -> int:
        async with self._session_factory() as session, session.begin():
            connection = await session.connection()   # Core statements built once: a hot path
            rows = (await connection.execute(UNPUBLISHED, {"limit": self._batch_size})).all()
            if not rows:
                return 0
            with tracing.publishing(self._service, [row.body for row in rows], EXCHANGE) as envelopes:
                await self._bus.publish_envelopes(envelopes)
            await connection.execute(_mark_published(connection.dialect.name),
                                     {"ids": [row.id for row in rows], "now": utcnow()})
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(self._service, row.type).inc()
        if log.isEnabledFor(logging.INFO):
            for row in rows:
                log.info("published %s %s", row.type, row.body["id"],
                         extra={**log_fields(row.body), "service": self._service})
        return len(rows)

    async def run(self) -> None:
        context.service.set(self._service)
        failing = False
        while True:
            # cleared before the query: a commit from here on wakes the next round, so a
            # notification that arrives while this round runs is never lost
            self._wake.clear()
            try:
                published = await self.relay_once()
                if published < self._batch_size:
                    await self._observe_backlog()
                    await self._purge_published()
                if failing:
                    log.info("outbox relay publishing again")
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # the traceback once; while the broker stays away, a line a round without it
                if failing:
                    log.warning("outbox relay still failing: %s: %s; retrying", type(exc).__name__, exc)
                else:
                    log.exception("outbox relay failed; retrying")
                failing, published = True, 0
                # the backlog grows while the broker is away: that is when its gauge matters
                with contextlib.suppress(Exception):
                    await self._observe_backlog()
                await asyncio.sleep(self._poll_interval)
            if published < self._batch_size:
                try:
                    # asyncio.timeout, not wait_for: wait_for can swallow a cancellation (3.11)
                    async with asyncio.timeout(self._poll_interval):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def _observe_backlog(self) -> None:
        if time.monotonic() - self._last_observed < 1.0:
            return
        self._last_observed = time.monotonic()
        async with self._session_factory() as session:
            count, oldest = (await session.execute(
                select(func.count(), func.min(OutboxMessage.created_at))
                .where(OutboxMessage.published_at.is_(None)))).one()
        metrics.OUTBOX_BACKLOG.labels(self._service).set(count)
        age = (utcnow() - _aware(oldest)).total_seconds() if oldest else 0.0
        metrics.OUTBOX_OLDEST_AGE.labels(self._service).set(age)

    async def _purge_published(self) -> None:
        if utcnow() - self._last_purge < timedelta(minutes=10):
            return
        self._last_purge = utcnow()
        async with self._session_factory() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(
                OutboxMessage.published_at < utcnow() - self._keep_published))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
