"""Stripe through its official SDK: a Checkout Session per top-up; webhooks verified with the
`Stripe-Signature` HMAC and its timestamp tolerance (`stripe.Webhook.construct_event`). The API
base is a setting, so tests run a local fake."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import stripe as sdk

from services.payment.providers.base import (
    BadNotification,
    Checkout,
    Created,
    Notice,
    ProviderRefused,
    ProviderUnavailable,
    blocking,
    refused,
)

log = logging.getLogger(__name__)
COMPLETED = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
FAILED = ("checkout.session.async_payment_failed", "checkout.session.expired")


class StripeProvider:
    name = "stripe"

    def __init__(self, api_key: str, webhook_secret: str, api_base: str, *, timeout: float,
                 tolerance: int) -> None:
        self._client = sdk.StripeClient(api_key, base_addresses={"api": api_base.rstrip("/")},
                                        max_network_retries=0)
        self._secret = webhook_secret
        self._timeout = timeout
        self._tolerance = tolerance

    async def create(self, checkout: Checkout) -> Created:
        params: Any = {
            "mode": "payment", "client_reference_id": str(checkout.payment_id),
            "success_url": checkout.return_url, "cancel_url": checkout.return_url,
            "metadata": {"payment_id": str(checkout.payment_id)},
            "line_items": [{"quantity": 1, "price_data": {
                "currency": checkout.currency.lower(), "unit_amount": checkout.amount,
                "product_data": {"name": checkout.description[:250]}}}]}
        session = await self._call(lambda: self._client.v1.checkout.sessions.create(
            params, {"idempotency_key": str(checkout.payment_id)}))
        return Created(provider_payment_id=session.id, confirmation_url=session.url)

    async def notice(self, body: bytes, headers: Mapping[str, str], client_ip: str | None) -> Notice | None:
        try:
            event = sdk.Webhook.construct_event(body, headers.get("stripe-signature"), self._secret,
                                                tolerance=self._tolerance)
        except (sdk.SignatureVerificationError, ValueError, KeyError, TypeError) as exc:
            raise BadNotification("Bad Stripe-Signature") from exc
        if event.type not in COMPLETED + FAILED:
            return None
        session = event.data.object.to_dict()
        if event.type in COMPLETED and session.get("payment_status") not in ("paid", "no_payment_required"):
            return None   # an asynchronous payment method: `async_payment_succeeded` follows
        amount = session.get("amount_total")
        currency = session.get("currency")
        return Notice(provider_payment_id=str(session.get("id")),
                      paid=event.type in COMPLETED,
                      amount=amount if isinstance(amount, int) else None,
                      currency=currency.upper() if isinstance(currency, str) else None,
                      failed=event.type in FAILED)

    async def refund(self, provider_payment_id: str, amount: int, currency: str, key: str) -> None:
        session = await self._call(lambda: self._client.v1.checkout.sessions.retrieve(provider_payment_id))
        intent = session.payment_intent
        intent_id = intent if isinstance(intent, str) else getattr(intent, "id", None)
        if not intent_id:
            raise ProviderRefused("Stripe has no payment for this session")
        await self._call(lambda: self._client.v1.refunds.create(
            {"payment_intent": intent_id, "amount": amount}, {"idempotency_key": key}))

    async def _call(self, call: Any) -> Any:
        try:
            return await blocking(call, self._timeout, self.name)
        except sdk.StripeError as exc:
            log.warning("stripe call failed: %r", exc)
            if refused(exc.http_status):
                raise ProviderRefused("Stripe refused the request") from exc
            raise ProviderUnavailable("Stripe is not available now") from exc
