"""The homework service's event handlers: the read model of users and links (`user.*` events),
which decides who may be assigned homework and which parents see it."""
from __future__ import annotations

from services.homework.deps import HomeworkDeps
from services.homework.roster import people
from shared.inbox import Handlers


def homework_handlers(deps: HomeworkDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    people.subscribe(handlers, owner=__name__)   # links and names, the deleted user's too
    return handlers
