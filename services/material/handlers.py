"""The material service's event handlers: the read model of people and links (`user.*` events),
which decides who sees a material shared with a teacher's students; and a deleted account's data."""
from __future__ import annotations

from services.material import service
from services.material.access import people
from services.material.deps import MaterialDeps
from shared.db import UnitOfWork
from shared.events import Event, UserDeleted
from shared.inbox import Handlers


def material_handlers(deps: MaterialDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    people.subscribe(handlers, owner=__name__)   # a deleted user's row and links go whole

    @handlers.on("user.deleted")
    async def erase_materials_of_deleted_user(uow: UnitOfWork, event: Event) -> None:
        """A deleted teacher's materials and files, a deleted student's shares and marks (docs/security.md)."""
        await service.erase_user(uow, deps, event.payload_as(UserDeleted).user_id)

    return handlers
