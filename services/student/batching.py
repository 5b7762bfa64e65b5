"""A consumer that handles learning events in batches: one transaction for the events that arrive
together, each event with its own inbox row in that transaction, each acknowledged only after it.

A per-event transaction costs about ten statements and caps a consumer well below the rate the
platform needs; a batch costs about the same ten statements for up to `max_batch` events. The bus
delivers up to `prefetch` messages at once (each awaiting its own future here); whatever has
arrived while the previous batch was being written forms the next one. When a batch fails, its
events are retried one by one, so that one bad event fails (and is retried, then parked by the
bus) alone. Other events go to the ordinary per-event `Consumer`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from shared.db import insert_for
from shared import metrics
from shared.db import UnitOfWork
from shared.events import Event
from shared.inbox import Consumer
from shared.outbox import InboxEntry

log = logging.getLogger(__name__)
BatchHandler = Callable[[UnitOfWork, list[Event]], Awaitable[None]]


class BatchConsumer:
    def __init__(self, service: str, uow_factory: Callable[[], UnitOfWork], handler: BatchHandler, *,
                 handler_name: str, batched_types: Collection[str], others: Consumer, max_batch: int = 100) -> None:
        self.service = service
        self._uow_factory = uow_factory
        self._handler = handler
        self._handler_name = handler_name
        self._types = set(batched_types)
        self._others = others
        self._max_batch = max_batch
        self._queue: list[tuple[Event, asyncio.Future]] = []
        self._wake = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        """The bus's handler: returns once the event is committed; raises its own failure."""
        if event.type not in self._types:
            await self._others(event)
            return
        future = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        self._wake.set()
        await future

    async def run(self) -> None:
        """Write batches as long as the app runs (a background task of the app)."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
                    await self._write(batch)
        finally:
            for _, future in self._queue:
                future.cancel()

    async def _write(self, batch: list[tuple[Event, asyncio.Future]]) -> None:
        started = time.perf_counter()
        try:
            fresh = await self._transaction([event for event, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # boundary: the consumer loop
            if len(batch) > 1:
                log.warning("a batch of %d events failed (%s); retrying them one by one", len(batch), exc)
                for item in batch:
                    await self._write([item])
                return
            event, future = batch[0]
            metrics.EVENTS_FAILED.labels(self.service, event.type).inc()
            log.exception("handler failed for %s %s", event.type, event.id)
            if not future.done():
                future.set_exception(exc)
            return
        elapsed = time.perf_counter() - started
        for event, future in batch:
            outcome = "processed" if event.id in fresh else "duplicate"
            metrics.EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()
            metrics.HANDLER_LATENCY.labels(self.service, event.type).observe(elapsed)
            if not future.done():
                future.set_result(None)

    async def _transaction(self, events: list[Event]) -> set[Any]:
        """Claim each event's inbox row and handle the events claimed now, in one transaction."""
        async with self._uow_factory() as uow:
            claimed = await claim_all(uow, [event.id for event in events], self._handler_name)
            first: dict[Any, Event] = {}
            for event in events:
                if event.id in claimed:
                    first.setdefault(event.id, event)
            if first:
                await self._handler(uow, list(first.values()))
            await uow.commit()
        return claimed


async def claim_all(uow: UnitOfWork, event_ids: list[Any], handler: str) -> set[Any]:
    """Insert the inbox rows (in id order); the ids whose row was not there yet."""
    rows = [{"event_id": event_id, "handler": handler} for event_id in sorted(set(event_ids), key=str)]
    inbox = InboxEntry.__table__
    inserted = await uow.session.execute(
        insert_for(uow.session, inbox).on_conflict_do_nothing().returning(inbox.c.event_id), rows)
    return set(inserted.scalars())
