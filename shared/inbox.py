"""Idempotent consumers: each handler runs in one transaction with its inbox row."""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from shared import context, metrics
from shared.db import UnitOfWork, insert_for
from shared.events import Event
from shared.outbox import InboxEntry

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, Event], Awaitable[None]]


class Handlers:
    """The event handlers of one service, by event type."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[EventHandler]] = defaultdict(list)

    def on(self, *event_types: str) -> Callable[[EventHandler], EventHandler]:
        def register(fn: EventHandler) -> EventHandler:
            for event_type in event_types:
                self.by_type[event_type].append(fn)
            return fn
        return register

    @property
    def routing_keys(self) -> list[str]:
        return sorted(self.by_type)


async def claim(session: AsyncSession, event_id: object, handler: str) -> bool:
    """Insert the inbox row; False when this handler already processed the event."""
    result = await session.execute(
        insert_for(session, InboxEntry).values(event_id=event_id, handler=handler).on_conflict_do_nothing())
    return result.rowcount == 1


def handler_name(fn: EventHandler) -> str:
    return f"{fn.__module__.rsplit('.', 1)[0]}.{fn.__name__}"


class Consumer:
    """Turns a delivered event into handler calls, each exactly once per event."""

    def __init__(self, service: str, uow_factory: Callable[[], UnitOfWork], handlers: Handlers) -> None:
        self.service = service
        self._uow_factory = uow_factory
        self._handlers = handlers

    async def __call__(self, event: Event) -> None:
        context.correlation_id.set(event.correlation_id or context.new_correlation_id())
        context.causation_id.set(event.id)
        started = time.perf_counter()
        try:
            for fn in self._handlers.by_type.get(event.type, []):
                await self._run(fn, event)
        except Exception:
            metrics.EVENTS_FAILED.labels(self.service, event.type).inc()
            log.exception("handler failed for %s %s", event.type, event.id)
            raise
        finally:
            metrics.HANDLER_LATENCY.labels(self.service, event.type).observe(time.perf_counter() - started)

    async def _run(self, fn: EventHandler, event: Event) -> None:
        async with self._uow_factory() as uow:
            if not await claim(uow.session, event.id, handler_name(fn)):
                metrics.EVENTS_CONSUMED.labels(self.service, event.type, "duplicate").inc()
                return
            await fn(uow, event)
            await uow.commit()
        metrics.EVENTS_CONSUMED.labels(self.service, event.type, "processed").inc()
