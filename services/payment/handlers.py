"""The payment service's event handlers: the read model of people, and lesson charges."""
from __future__ import annotations

from services.payment import charges
from services.payment.deps import PaymentDeps
from services.payment.roster import people
from shared.inbox import Handlers


def payment_handlers(deps: PaymentDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    people.subscribe(handlers, owner=__name__)   # links and names; a deleted user's ledger stays
    handlers.on("lesson.completed")(charges.charge_completed_lesson)
    handlers.on("lesson.cancelled")(charges.charge_late_cancellation)
    return handlers
