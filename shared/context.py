"""Per-request and per-event context: correlation and causation IDs."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.events import Event

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[uuid.UUID | None] = ContextVar("causation_id", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    """The ID of the chain we are in, making one when there is none (a command, a timer)."""
    value = correlation_id.get()
    if value is None:
        value = new_correlation_id()
        correlation_id.set(value)
    return value


def enter(event: Event) -> None:
    """What is logged and emitted from here on carries the event's correlation ID and is caused by it."""
    correlation_id.set(event.correlation_id or new_correlation_id())
    causation_id.set(event.id)


def each_event(events: Iterable[Event]) -> Iterator[Event]:
    """The events of a batch one by one, each entered (`enter`) while the loop body runs for it;
    the context of the batch comes back after the last one."""
    correlation, causation = correlation_id.get(), causation_id.get()
    try:
        for event in events:
            enter(event)
            yield event
    finally:
        correlation_id.set(correlation)
        causation_id.set(causation)
