"""Event handlers: keep the read model of users and links (`user.*` events) up to date."""
from __future__ import annotations

from services.lesson import calendar, roster
from shared.db import UnitOfWork
from shared.events import (Event, ParentLinked, ParentUnlinked, TeacherLinked, TeacherUnlinked, UserCreated,
                           UserDeactivated, UserDeleted, UserUpdated)
from shared.inbox import Handlers

handlers = Handlers()


@handlers.on("user.created")
async def on_user_created(uow: UnitOfWork, event: Event) -> None:
    user = UserCreated.model_validate(event.payload)
    await roster.record_user(uow.session, user.user_id, user.model_dump(), overwrite=False)


@handlers.on("user.updated")
async def on_user_updated(uow: UnitOfWork, event: Event) -> None:
    update = UserUpdated.model_validate(event.payload)
    await roster.record_user(uow.session, update.user_id, update.changed, overwrite=True)


@handlers.on("user.teacher_linked")
async def on_teacher_linked(uow: UnitOfWork, event: Event) -> None:
    link = TeacherLinked.model_validate(event.payload)
    await roster.link_teacher(uow.session, link.teacher_id, link.student_id)


@handlers.on("user.parent_linked")
async def on_parent_linked(uow: UnitOfWork, event: Event) -> None:
    link = ParentLinked.model_validate(event.payload)
    await roster.link_parent(uow.session, link.parent_id, link.student_id)


@handlers.on("user.teacher_unlinked")
async def on_teacher_unlinked(uow: UnitOfWork, event: Event) -> None:
    link = TeacherUnlinked.model_validate(event.payload)
    await roster.unlink_teacher(uow.session, link.teacher_id, link.student_id)


@handlers.on("user.parent_unlinked")
async def on_parent_unlinked(uow: UnitOfWork, event: Event) -> None:
    link = ParentUnlinked.model_validate(event.payload)
    await roster.unlink_parent(uow.session, link.parent_id, link.student_id)


@handlers.on("user.deactivated")
async def on_user_deactivated(uow: UnitOfWork, event: Event) -> None:
    """A deactivated account's calendar feed stops working (a new one needs a new token)."""
    await calendar.drop_feed(uow.session, UserDeactivated.model_validate(event.payload).user_id)


@handlers.on("user.deleted")
async def on_user_deleted(uow: UnitOfWork, event: Event) -> None:
    """The feed goes, and the roster forgets the name; lessons stay, for the other party's records."""
    user_id = UserDeleted.model_validate(event.payload).user_id
    await calendar.drop_feed(uow.session, user_id)
    await roster.forget_user(uow.session, user_id)
