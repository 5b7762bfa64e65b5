"""Idempotent consumers that write in batches.

Every (event, handler) pair has an inbox row, written in the same transaction as what the handler
does, so a redelivered event changes nothing. The events that arrive while one batch is being
written form the next batch, handled in one transaction: a transaction costs a handful of
statements and a commit whatever it holds, so batching is what lets a consumer keep up with the
bus. At low load a batch is one event and nothing waits. Each delivery is acknowledged only after
the commit that holds it; when a batch fails, its events are retried one transaction each, so a
bad event fails (and is retried, then parked by the bus) alone.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Uuid, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared import context, metrics, tracing
from shared.bus import topic_matches
from shared.db import UnitOfWork
from shared.events import Event, log_fields, utcnow
from shared.sql import MessagingBase, insert_ignoring

log = logging.getLogger(__name__)

EventHandler = Callable[[UnitOfWork, Event], Awaitable[None]]
BatchHandler = Callable[[UnitOfWork, list[Event]], Awaitable[None]]


class InboxEntry(MessagingBase):
    __tablename__ = "inbox"

    event_id: Mapped[Any] = mapped_column(Uuid, primary_key=True)
    handler: Mapped[str] = mapped_column(String(200), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Handlers:
    """The event handlers of one service, by event type: per event, or per batch of events."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[EventHandler]] = defaultdict(list)
        self.batch_by_type: dict[str, list[BatchHandler]] = defaultdict(list)

    def on(self, *event_types: str) -> Callable[[EventHandler], EventHandler]:
        def register(fn: EventHandler) -> EventHandler:
            for event_type in event_types:
                self._refuse_a_second(event_type, fn)
                self.by_type[event_type].append(fn)
            return fn
        return register

    def _refuse_a_second(self, event_type: str, fn: Callable[..., Any]) -> None:
        # the inbox marks an event done per handler name: a namesake would be skipped as done
        if handler_name(fn) in self.names(event_type):
            raise ValueError(f"two handlers of {event_type} are named {handler_name(fn)}")

    def on_batch(self, *event_types: str) -> Callable[[BatchHandler], BatchHandler]:
        """`fn(uow, events)` gets the new events of these types in a batch, in arrival order, at once.
        It runs in the context of the batch's first event; `for event in context.each_event(events)`
        enters each one in turn, so that what the loop emits and logs is caused by that event."""
        def register(fn: BatchHandler) -> BatchHandler:
            for event_type in event_types:
                self._refuse_a_second(event_type, fn)
                self.batch_by_type[event_type].append(fn)
            return fn
        return register

    @property
    def routing_keys(self) -> list[str]:
        return sorted({*self.by_type, *self.batch_by_type})

    def handlers_of(self, event_type: str) -> list[EventHandler]:
        """The per-event handlers of a type: registered under it, or under a topic pattern
        (`#`, `lesson.*`) that matches it."""
        return _matching(self.by_type, event_type)

    def batch_handlers_of(self, event_type: str) -> list[BatchHandler]:
        return _matching(self.batch_by_type, event_type)

    def names(self, event_type: str) -> list[str]:
        return [handler_name(fn) for fn in (*self.handlers_of(event_type), *self.batch_handlers_of(event_type))]


def _matching(table: dict[str, list[Any]], event_type: str) -> list[Any]:
    found = list(table.get(event_type, ()))
    for pattern, fns in table.items():
        if ("#" in pattern or "*" in pattern) and topic_matches(pattern, event_type):
            found += [fn for fn in fns if fn not in found]
    return found


def handler_name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__.rsplit('.', 1)[0]}.{fn.__name__}"


async def claim(session: AsyncSession, pairs: Iterable[tuple[Any, str]]) -> set[tuple[Any, str]]:
    """Insert the inbox rows of (event id, handler) pairs; the pairs that were not there yet.
    Rows go in a fixed order so that two consumers claiming overlapping batches cannot deadlock."""
    ordered = sorted(set(pairs), key=str)
    if not ordered:
        return set()
    connection = await session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":   # one statement text whatever the batch size (see shared.db.one_of)
        inserted = await connection.execute(_claim_statement(dialect), {
            "event_ids": [event_id for event_id, _ in ordered], "handlers": [handler for _, handler in ordered]})
    else:
        inserted = await connection.execute(_claim_statement(dialect), [
            {"event_id": event_id, "handler": handler} for event_id, handler in ordered])
    return {(event_id, handler) for event_id, handler in inserted}


@functools.cache
def _claim_statement(dialect: str) -> Any:
    inbox = InboxEntry.__table__
    if dialect == "postgresql":
        insert = postgresql.insert(inbox).from_select(["event_id", "handler"], select(
            func.unnest(cast(bindparam("event_ids"), ARRAY(inbox.c.event_id.type))),
            func.unnest(cast(bindparam("handlers"), ARRAY(inbox.c.handler.type))))).on_conflict_do_nothing()
    else:
        insert = insert_ignoring(dialect, inbox)
    return insert.returning(inbox.c.event_id, inbox.c.handler)


class Consumer:
    """The bus's handler: returns once the event's handlers have committed, raises their failure."""

    def __init__(self, service: str, uow_factory: Callable[[], UnitOfWork], handlers: Handlers, *,
                 max_batch: int = 100) -> None:
        self.service = service
        self._uow_factory = uow_factory
        self._handlers = handlers
        self._max_batch = max_batch
        self._waiting: list[tuple[Event, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, event: Event) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name=f"{self.service}:inbox")
        await future

    async def _write_all(self) -> None:
        context.service.set(self.service)
        while self._waiting:
            batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
            try:
                await self._write(batch)
            except BaseException:
                for _, future in [*batch, *self._waiting]:
                    future.cancel()
                self._waiting = []
                raise

    async def _write(self, batch: list[tuple[Event, asyncio.Future[None]]]) -> None:
        started = time.perf_counter()
        try:
            fresh = await self._transaction([event for event, _ in batch])
        except Exception as exc:  # boundary: the consumer loop
            if len(batch) > 1:
                log.warning("a batch of %d events failed (%s); retrying them one by one", len(batch), exc)
                for item in batch:
                    await self._write([item])
                return
            event, future = batch[0]
            metrics.EVENTS_FAILED.labels(self.service, event.type).inc()
            log.exception("handling %s %s failed", event.type, event.id, extra={
                **log_fields(event), "consumer": self.service, "outcome": "failed",
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
            if not future.done():
                future.set_exception(exc)
            return
        elapsed = time.perf_counter() - started
        metrics.CONSUMER_BATCH_SIZE.labels(self.service).observe(len(batch))
        logging_info = log.isEnabledFor(logging.INFO)
        for (event, future), new in zip(batch, fresh):
            outcome = "processed" if new else "duplicate"
            metrics.EVENTS_CONSUMED.labels(self.service, event.type, outcome).inc()
            metrics.HANDLER_LATENCY.labels(self.service, event.type).observe(elapsed)
            if logging_info:
                log.info("%s %s %s", outcome, event.type, event.id, extra={
                    **log_fields(event), "consumer": self.service, "outcome": outcome,
                    "duration_ms": round(elapsed * 1000, 2), "batch": len(batch)})
            if not future.done():
                future.set_result(None)

    async def _transaction(self, events: list[Event]) -> list[bool]:
        """One transaction: claim every (event, handler) pair, run the handlers of the pairs claimed
        now (per-event handlers in arrival order, then each batch handler once), commit.
        For each event, whether it had new work (False for a duplicate, even within the batch)."""
        with tracing.consuming(self.service, f"{self.service}.events", events):
            async with self._uow_factory() as uow:
                claimed = await claim(uow.session, [(event.id, name) for event in events
                                                    for name in self._handlers.names(event.type)])
                fresh: list[bool] = []
                batches: dict[BatchHandler, list[Event]] = {}
                for event in events:
                    new = False
                    for fn in self._handlers.handlers_of(event.type):
                        if _take(claimed, event, fn):
                            new = True
                            context.enter(event)
                            await fn(uow, event)
                    for fn in self._handlers.batch_handlers_of(event.type):
                        if _take(claimed, event, fn):
                            new = True
                            batches.setdefault(fn, []).append(event)
                    fresh.append(new)
                for fn, batch in batches.items():
                    context.enter(batch[0])
                    await fn(uow, batch)
                await uow.commit()
        return fresh


def _take(claimed: set[tuple[Any, str]], event: Event, fn: Callable[..., Any]) -> bool:
    """Whether this handler is to see this event: its pair was claimed in this transaction and is
    taken now (so the second copy of an event in the same batch is a duplicate)."""
    pair = (event.id, handler_name(fn))
    if pair not in claimed:
        return False
    claimed.discard(pair)
    return True

