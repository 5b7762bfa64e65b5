"""The analytics service's event handlers: every event of the bus (`#`) goes into the event store
and the read models, a batch at a time; `user.*` events also keep the read model of people."""
from __future__ import annotations

from services.analytics.deps import AnalyticsDeps
from services.analytics.people import people
from services.analytics.projection import store_and_project
from shared.db import UnitOfWork
from shared.events import Event
from shared.inbox import Handlers


def analytics_handlers(deps: AnalyticsDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    handlers.on_batch("#")(on_any_events)
    people.subscribe(handlers, owner=__name__)   # names, zones, links
    return handlers


async def on_any_events(uow: UnitOfWork, events: list[Event]) -> None:
    """Every event, once, into the store and the read models."""
    await store_and_project(uow, events)
