"""YooKassa through its official SDK (`yookassa`). Its notifications are not signed: one is
trusted only after the payment it names is fetched back from the API (and, when configured,
only from YooKassa's networks). The API base URL is a setting, so tests run a local fake."""
from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Mapping
from typing import Any

from yookassa import Configuration, Payment, Refund
from yookassa.domain.exceptions import ApiError, NotFoundError

from services.payment.providers.base import (
    BadNotification,
    Checkout,
    Created,
    Notice,
    ProviderRefused,
    ProviderUnavailable,
    blocking,
    from_decimal_text,
    refused,
    to_decimal_text,
)

log = logging.getLogger(__name__)


class YooKassaProvider:
    name = "yookassa"

    def __init__(self, shop_id: str, secret_key: str, api_url: str, *, timeout: float,
                 networks: list[str] | None = None) -> None:
        # the SDK keeps one configuration per process: one shop per payment service
        Configuration.configure(shop_id, secret_key, api_url=api_url.rstrip("/"), timeout=timeout,
                                max_attempts=1)
        self._timeout = timeout
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks or ()]

    async def create(self, checkout: Checkout) -> Created:
        params = {"amount": _amount(checkout.amount, checkout.currency), "capture": True,
                  "confirmation": {"type": "redirect", "return_url": checkout.return_url},
                  "description": checkout.description[:128],
                  "metadata": {"payment_id": str(checkout.payment_id)}}
        created = await self._call(lambda: Payment.create(params, str(checkout.payment_id)))
        return Created(provider_payment_id=created.id, confirmation_url=created.confirmation.confirmation_url)

    async def notice(self, body: bytes, headers: Mapping[str, str], client_ip: str | None) -> Notice | None:
        self._check_source(client_ip)
        payment_id = _notified_payment(body)
        if payment_id is None:
            return None
        try:
            found = await self._call(lambda: Payment.find_one(payment_id))
        except ProviderRefused as exc:
            if isinstance(exc.__cause__, NotFoundError):
                raise BadNotification("The API knows no such payment") from exc
            raise
        try:
            amount = from_decimal_text(found.amount.value, found.amount.currency)
        except ValueError as exc:
            raise BadNotification(str(exc)) from exc
        return Notice(provider_payment_id=found.id, paid=found.status == "succeeded" and bool(found.paid),
                      amount=amount, currency=found.amount.currency, failed=found.status == "canceled")

    async def refund(self, provider_payment_id: str, amount: int, currency: str, key: str) -> None:
        params = {"payment_id": provider_payment_id, "amount": _amount(amount, currency)}
        refund = await self._call(lambda: Refund.create(params, key))
        if refund.status == "canceled":
            raise ProviderRefused("YooKassa refused the refund")

    def _check_source(self, client_ip: str | None) -> None:
        if not self._networks:
            return
        try:
            address = ipaddress.ip_address(client_ip or "")
        except ValueError as exc:
            raise BadNotification("Unknown source") from exc
        if not any(address in network for network in self._networks):
            raise BadNotification("A notification from outside YooKassa's networks")

    async def _call(self, call: Any) -> Any:
        try:
            return await blocking(call, self._timeout, self.name)
        except (ApiError, OSError) as exc:   # requests' errors are OSErrors
            log.warning("yookassa call failed: %r", exc)
            if refused(getattr(exc, "HTTP_CODE", None)):
                raise ProviderRefused("YooKassa refused the request") from exc
            raise ProviderUnavailable("YooKassa is not available now") from exc


def _amount(amount: int, currency: str) -> dict[str, str]:
    return {"value": to_decimal_text(amount, currency), "currency": currency}


def _notified_payment(body: bytes) -> str | None:
    """The payment id of a `payment.*` notification; None for other events (refunds, payouts)."""
    try:
        notice = json.loads(body)
        event, payment_id = notice["event"], notice["object"]["id"]
    except (ValueError, TypeError, KeyError) as exc:
        raise BadNotification("Not a YooKassa notification") from exc
    if not isinstance(event, str) or not isinstance(payment_id, str) or not payment_id:
        raise BadNotification("Not a YooKassa notification")
    return payment_id if event.startswith("payment.") else None
