"""The homework service's event handlers: each translates one event into a use case call. The
shared app subscribes the queue `homework.events` to the types registered here (none yet)."""
from __future__ import annotations

from services.homework.deps import HomeworkDeps
from shared.inbox import Handlers


def homework_handlers(deps: HomeworkDeps) -> Handlers:
    """Every handler of the service, by event type."""
    return Handlers()
