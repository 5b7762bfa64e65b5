"""Event handlers: keep the read model of users and links (`user.*` events) up to date."""
from __future__ import annotations

from services.lesson.deps import LessonDeps
from services.lesson.roster import people
from shared.inbox import Handlers


def lesson_handlers(deps: LessonDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    people.subscribe(handlers, owner=__name__)
    return handlers
