"""The demo provider's confirmation page: the whole top-up flow with no account anywhere. Its
button posts the payment id and the link's signature to the same webhook path a real provider
uses (`/api/v1/payments/webhooks/demo`)."""
from __future__ import annotations

import html
import uuid

from services.payment.domain import PaymentStatus
from services.payment.models import Payment
from services.payment.providers.base import to_decimal_text
from services.payment.providers.local import WEBHOOK_PATH, DemoProvider
from shared.db import UnitOfWork
from shared.errors import NotFound

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo payment</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28rem; margin: 3rem auto">
<h1>Demo payment</h1>
<p>No money moves: this page stands in for a payment provider.</p>
<p>Amount: <strong>{amount} {currency}</strong></p>
<form method="post" action="{action}">
<input type="hidden" name="payment_id" value="{payment_id}">
<input type="hidden" name="signature" value="{signature}">
<button type="submit">Pay</button>
</form></body></html>
"""


async def render(uow: UnitOfWork, demo: DemoProvider, payment_id: uuid.UUID, signature: str) -> str:
    """The page of a pending demo payment whose link's signature is right; 404 otherwise."""
    async with uow.read_only():
        payment = await uow.session.get(Payment, payment_id)
    if payment is None or payment.provider != demo.name or not demo.valid(payment_id, signature) \
            or payment.status != PaymentStatus.PENDING or payment.provider_payment_id is None:
        raise NotFound("No such pending payment")
    return PAGE.format(amount=html.escape(to_decimal_text(payment.amount, payment.currency)),
                       currency=html.escape(payment.currency), action=WEBHOOK_PATH.format(provider=demo.name),
                       payment_id=payment.id, signature=html.escape(signature))
