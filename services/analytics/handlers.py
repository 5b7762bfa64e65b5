"""The analytics service's event handlers: each translates one event into a use case call. The
shared app subscribes the queue `analytics.events` to the types registered here (none yet)."""
from __future__ import annotations

from services.analytics.deps import AnalyticsDeps
from shared.inbox import Handlers


def analytics_handlers(deps: AnalyticsDeps) -> Handlers:
    """Every handler of the service, by event type."""
    return Handlers()
