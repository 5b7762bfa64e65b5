"""Per-request and per-event context: correlation and causation IDs, and the service at work."""
from __future__ import annotations

import uuid
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[uuid.UUID | None] = ContextVar("causation_id", default=None)
# The service whose code runs: in embedded mode the nine services share a process, and each log
# line still names its own. None outside a request or event: the process's name is used.
service: ContextVar[str | None] = ContextVar("service", default=None)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    """The ID of the chain we are in, making one when there is none (a command, a timer)."""
    value = correlation_id.get()
    if value is None:
        value = new_correlation_id()
        correlation_id.set(value)
    return value
