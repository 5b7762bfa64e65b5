"""Event handlers: learning events become facts of the gamification engine (a batch at a time);
`user.*` and `material.uploaded`/`updated`/`deleted` keep the read model of people, links and materials."""
from __future__ import annotations

from services.student import people, service
from services.student.deps import StudentDeps
from services.student.validation import FACT_TYPES
from shared.db import UnitOfWork
from shared.events import Event, MaterialDeleted, MaterialUpdated, MaterialUploaded, UserCreated, UserUpdated
from shared.inbox import Handlers


def student_handlers(deps: StudentDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()

    @handlers.on_batch(*FACT_TYPES)
    async def on_learning_events(uow: UnitOfWork, events: list[Event]) -> None:
        """Lesson, homework, material, payment and dictionary events, all of a batch at once."""
        await service.record_facts(uow, deps.game, events)

    people.roster.subscribe(handlers, owner=__name__)   # names and links, unlinks, deletions
    handlers.on("user.created")(on_user_created_zone)
    handlers.on("user.updated")(on_user_updated_zone)
    handlers.on("material.uploaded")(on_material_uploaded)
    handlers.on("material.updated")(on_material_updated)
    handlers.on("material.deleted")(on_material_deleted)
    return handlers


async def on_user_created_zone(uow: UnitOfWork, event: Event) -> None:
    """The zone given at registration, in the zone history (the rest is the shared read model's)."""
    user = event.payload_as(UserCreated)
    await people.record_timezone(uow.session, user.user_id, user.timezone, people.SINCE_ALWAYS)


async def on_user_updated_zone(uow: UnitOfWork, event: Event) -> None:
    """A new zone, in the history from the moment it was changed."""
    update = event.payload_as(UserUpdated)
    if "timezone" in update.changed:
        await people.record_timezone(uow.session, update.user_id, update.changed["timezone"], event.occurred_at)


async def on_material_uploaded(uow: UnitOfWork, event: Event) -> None:
    material = event.payload_as(MaterialUploaded)
    await people.record_material(uow.session, material.material_id, material.model_dump(), event.occurred_at)



async def on_material_updated(uow: UnitOfWork, event: Event) -> None:
    """New subject, title or visibility: recommendations follow (its upload time stays)."""
    material = event.payload_as(MaterialUpdated)
    await people.record_material(uow.session, material.material_id, material.model_dump(), event.occurred_at)


async def on_material_deleted(uow: UnitOfWork, event: Event) -> None:
    """A deleted material is recommended no more (the XP it gave stays)."""
    await people.forget_material(uow.session, event.payload_as(MaterialDeleted).material_id)
