"""Event handlers: learning events become facts of the gamification engine (a batch at a time);
`user.*` and `material.uploaded` keep the read model of people, links and materials."""
from __future__ import annotations

from services.student import people, service
from services.student.deps import StudentDeps
from services.student.validation import FACT_TYPES
from shared.db import UnitOfWork
from shared.events import (Event, MaterialUploaded, ParentLinked, ParentUnlinked, TeacherLinked, TeacherUnlinked,
                           UserCreated, UserDeleted, UserUpdated)
from shared.inbox import Handlers


def student_handlers(deps: StudentDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()

    @handlers.on_batch(*FACT_TYPES)
    async def on_learning_events(uow: UnitOfWork, events: list[Event]) -> None:
        """Lesson, homework, material, payment and dictionary events, all of a batch at once."""
        await service.record_facts(uow, deps.game, events)

    handlers.on("user.created")(on_user_created)
    handlers.on("user.updated")(on_user_updated)
    handlers.on("user.teacher_linked")(on_teacher_linked)
    handlers.on("user.parent_linked")(on_parent_linked)
    handlers.on("user.teacher_unlinked")(on_teacher_unlinked)
    handlers.on("user.parent_unlinked")(on_parent_unlinked)
    handlers.on("user.deleted")(on_user_deleted)
    handlers.on("material.uploaded")(on_material_uploaded)
    return handlers


async def on_user_created(uow: UnitOfWork, event: Event) -> None:
    user = event.payload_as(UserCreated)
    await people.record_user(uow.session, user.user_id, user.model_dump(), overwrite=False)
    await people.record_timezone(uow.session, user.user_id, user.timezone, people.SINCE_ALWAYS)


async def on_user_updated(uow: UnitOfWork, event: Event) -> None:
    update = event.payload_as(UserUpdated)
    await people.record_user(uow.session, update.user_id, update.changed, overwrite=True)
    if "timezone" in update.changed:
        await people.record_timezone(uow.session, update.user_id, update.changed["timezone"], event.occurred_at)


async def on_teacher_linked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(TeacherLinked)
    await people.link_teacher(uow.session, link.teacher_id, link.student_id)


async def on_parent_linked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(ParentLinked)
    await people.link_parent(uow.session, link.parent_id, link.student_id)


async def on_teacher_unlinked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(TeacherUnlinked)
    await people.unlink_teacher(uow.session, link.teacher_id, link.student_id)


async def on_parent_unlinked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(ParentUnlinked)
    await people.unlink_parent(uow.session, link.parent_id, link.student_id)


async def on_user_deleted(uow: UnitOfWork, event: Event) -> None:
    await people.forget_user(uow.session, event.payload_as(UserDeleted).user_id)


async def on_material_uploaded(uow: UnitOfWork, event: Event) -> None:
    material = event.payload_as(MaterialUploaded)
    await people.record_material(uow.session, material.material_id, material.model_dump(), event.occurred_at)

