"""The two providers that need no account anywhere: `demo` (a confirmation page served by the
payment service itself, whose button posts to the same webhook path a real provider uses) and
`manual` (money the teacher received in cash or by transfer)."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qs

from services.payment.providers.base import BadNotification, Checkout, Created, Notice

DEMO_PAGE_PATH = "/api/v1/payments/demo/{payment_id}"
WEBHOOK_PATH = "/api/v1/payments/webhooks/{provider}"


class DemoProvider:
    """Confirms a payment through a page of the platform; the link carries an HMAC of the payment id."""

    name = "demo"

    def __init__(self, secret: bytes, public_base_url: str) -> None:
        self._secret = secret
        self._base = public_base_url.rstrip("/")

    def token(self, payment_id: uuid.UUID) -> str:
        return hmac.new(self._secret, payment_id.bytes, hashlib.sha256).hexdigest()

    def valid(self, payment_id: uuid.UUID, token: str) -> bool:
        return hmac.compare_digest(self.token(payment_id), token)

    async def create(self, checkout: Checkout) -> Created:
        url = (self._base + DEMO_PAGE_PATH.format(payment_id=checkout.payment_id)
               + f"?signature={self.token(checkout.payment_id)}")
        return Created(provider_payment_id=str(checkout.payment_id), confirmation_url=url)

    async def notice(self, body: bytes, headers: Mapping[str, str], client_ip: str | None) -> Notice:
        fields = _fields(body, headers.get("content-type", ""))
        try:
            payment_id = uuid.UUID(str(fields.get("payment_id", "")))
        except ValueError as exc:
            raise BadNotification("No payment_id") from exc
        if not self.valid(payment_id, str(fields.get("signature", ""))):
            raise BadNotification("Bad signature")
        return Notice(provider_payment_id=str(payment_id), paid=True, amount=None, currency=None)

    async def refund(self, provider_payment_id: str, amount: int, currency: str, key: str) -> None:
        """Nothing to tell anyone: the demo money never left the platform."""


class ManualProvider:
    """Cash or a bank transfer recorded by the teacher: no notification, refunds are handed back by hand."""

    name = "manual"

    async def create(self, checkout: Checkout) -> Created:
        return Created(provider_payment_id=str(checkout.payment_id), confirmation_url=None)

    async def notice(self, body: bytes, headers: Mapping[str, str], client_ip: str | None) -> Notice:
        raise BadNotification("Manual payments have no notifications")

    async def refund(self, provider_payment_id: str, amount: int, currency: str, key: str) -> None:
        """The teacher hands the money back; the ledger records it."""


def _fields(body: bytes, content_type: str) -> dict[str, object]:
    """A form post (the page's button) or a JSON body."""
    try:
        if content_type.startswith("application/json"):
            loaded = json.loads(body)
            return loaded if isinstance(loaded, dict) else {}
        return {k: v[0] for k, v in parse_qs(body.decode(), max_num_fields=10).items()}
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadNotification("Unreadable notification") from exc
