"""Event handlers: keep the read model of users and links (`user.*` events) up to date."""
from __future__ import annotations

from services.lesson import calendar, roster
from services.lesson.deps import LessonDeps
from shared.db import UnitOfWork
from shared.events import (Event, ParentLinked, ParentUnlinked, TeacherLinked, TeacherUnlinked, UserCreated,
                           UserDeactivated, UserDeleted, UserUpdated)
from shared.inbox import Handlers


def lesson_handlers(deps: LessonDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    handlers.on("user.created")(on_user_created)
    handlers.on("user.updated")(on_user_updated)
    handlers.on("user.teacher_linked")(on_teacher_linked)
    handlers.on("user.parent_linked")(on_parent_linked)
    handlers.on("user.teacher_unlinked")(on_teacher_unlinked)
    handlers.on("user.parent_unlinked")(on_parent_unlinked)
    handlers.on("user.deactivated")(on_user_deactivated)
    handlers.on("user.deleted")(on_user_deleted)
    return handlers


async def on_user_created(uow: UnitOfWork, event: Event) -> None:
    user = event.payload_as(UserCreated)
    await roster.record_user(uow.session, user.user_id, user.model_dump(), overwrite=False)


async def on_user_updated(uow: UnitOfWork, event: Event) -> None:
    update = event.payload_as(UserUpdated)
    await roster.record_user(uow.session, update.user_id, update.changed, overwrite=True)


async def on_teacher_linked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(TeacherLinked)
    await roster.link_teacher(uow.session, link.teacher_id, link.student_id)


async def on_parent_linked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(ParentLinked)
    await roster.link_parent(uow.session, link.parent_id, link.student_id)


async def on_teacher_unlinked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(TeacherUnlinked)
    await roster.unlink_teacher(uow.session, link.teacher_id, link.student_id)


async def on_parent_unlinked(uow: UnitOfWork, event: Event) -> None:
    link = event.payload_as(ParentUnlinked)
    await roster.unlink_parent(uow.session, link.parent_id, link.student_id)


async def on_user_deactivated(uow: UnitOfWork, event: Event) -> None:
    """A deactivated account's calendar feed stops working (a new one needs a new token)."""
    await calendar.drop_feed(uow.session, event.payload_as(UserDeactivated).user_id)


async def on_user_deleted(uow: UnitOfWork, event: Event) -> None:
    """The feed goes, and the roster forgets the name; lessons stay, for the other party's records."""
    user_id = event.payload_as(UserDeleted).user_id
    await calendar.drop_feed(uow.session, user_id)
    await roster.forget_user(uow.session, user_id)
