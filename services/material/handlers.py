"""The material service's event handlers: the read model of people and links (`user.*` events),
which decides who sees a material shared with a teacher's students."""
from __future__ import annotations

from services.material.access import people
from services.material.deps import MaterialDeps
from shared.inbox import Handlers


def material_handlers(deps: MaterialDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    people.subscribe(handlers, owner=__name__)   # a deleted user's row and links go whole
    return handlers
