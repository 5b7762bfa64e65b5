"""The payment service's event handlers: each translates one event into a use case call. The
shared app subscribes the queue `payment.events` to the types registered here (none yet)."""
from __future__ import annotations

from services.payment.deps import PaymentDeps
from shared.inbox import Handlers


def payment_handlers(deps: PaymentDeps) -> Handlers:
    """Every handler of the service, by event type."""
    return Handlers()
