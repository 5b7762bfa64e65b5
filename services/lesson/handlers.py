"""Event handlers: keep the read model of users and links (`user.*` events) up to date, and
stop a calendar feed whose account is deactivated or deleted."""
from __future__ import annotations

from services.lesson import calendar
from services.lesson.deps import LessonDeps
from services.lesson.roster import people
from shared.db import UnitOfWork
from shared.events import Event, UserDeactivated, UserDeleted
from shared.inbox import Handlers


def lesson_handlers(deps: LessonDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    people.subscribe(handlers, owner=__name__)   # links and names, the deleted user's too
    handlers.on("user.deactivated")(on_user_deactivated)
    handlers.on("user.deleted")(drop_feed_of_deleted_user)
    return handlers


async def on_user_deactivated(uow: UnitOfWork, event: Event) -> None:
    """A deactivated account's calendar feed stops working (a new one needs a new token)."""
    await calendar.drop_feed(uow.session, event.payload_as(UserDeactivated).user_id)


async def drop_feed_of_deleted_user(uow: UnitOfWork, event: Event) -> None:
    """A deleted account's feed goes; its lessons stay, under "Deleted user", for the other party's records."""
    await calendar.drop_feed(uow.session, event.payload_as(UserDeleted).user_id)
