"""The material service's event handlers: each translates one event into a use case call. The
shared app subscribes the queue `material.events` to the types registered here (none yet)."""
from __future__ import annotations

from services.material.deps import MaterialDeps
from shared.inbox import Handlers


def material_handlers(deps: MaterialDeps) -> Handlers:
    """Every handler of the service, by event type."""
    return Handlers()
