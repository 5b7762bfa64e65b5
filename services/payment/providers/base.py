"""What a payment provider does for the service, and the money conversions providers need."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import anyio
from babel.numbers import get_currency_precision

from shared.errors import DomainError, ServiceUnavailable

T = TypeVar("T")


class BadNotification(DomainError):
    """A notification that cannot be trusted (bad signature, stale, not confirmed by the API): 400."""

    title = "Notification refused"


class ProviderUnavailable(ServiceUnavailable):
    """The provider did not answer, or answered with an error: its outcome is not known (the
    call may have been done there), so the same call is to be repeated with the same key."""


class ProviderRefused(ProviderUnavailable):
    """The provider answered that it did not do it (a 4xx, a refund it cancelled): repeating the
    call would not change that."""


def refused(status: int | None) -> bool:
    """Whether an HTTP error status of a provider means the call was not done: a 4xx but 409
    (the same key still being worked on there)."""
    return status is not None and 400 <= status < 500 and status != 409


@dataclass(frozen=True)
class Checkout:
    """A payment to create at the provider."""

    payment_id: uuid.UUID
    amount: int
    currency: str
    description: str
    return_url: str


@dataclass(frozen=True)
class Created:
    provider_payment_id: str
    confirmation_url: str | None


@dataclass(frozen=True)
class Notice:
    """What a trusted notification says of one payment."""

    provider_payment_id: str
    paid: bool
    amount: int | None
    currency: str | None
    failed: bool = False


class Provider(Protocol):
    """`create` and `refund` take an idempotency key: repeated with the same key (within the
    provider's 24 hours), they answer what the first call did without doing it again. That is
    also how the service asks after a call whose answer it lost: it repeats it (`recovery`).
    Their failures are `ProviderUnavailable` (outcome unknown) or `ProviderRefused` (not done)."""

    name: str

    async def create(self, checkout: Checkout) -> Created:
        """Create a pending payment, keyed by `checkout.payment_id`; its id at the provider and
        where the payer confirms it."""

    async def notice(self, body: bytes, headers: Mapping[str, str], client_ip: str | None) -> Notice | None:
        """The trusted content of a notification, None for one of no interest; `BadNotification` else."""

    async def refund(self, provider_payment_id: str, amount: int, currency: str, key: str) -> None:
        """Refund `amount` of a payment; `key` makes a retried refund one refund at the provider."""


async def blocking(call: Callable[[], T], timeout: float, provider: str) -> T:
    """Run a blocking SDK call in a worker thread, at most `timeout` seconds; its failure is a 503."""
    try:
        with anyio.fail_after(timeout):
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
    except TimeoutError as exc:
        raise ProviderUnavailable(f"The payment provider {provider} did not answer in time") from exc


def to_decimal_text(amount: int, currency: str) -> str:
    """Minor units as the provider's decimal text: 500000 RUB -> "5000.00"; integers only."""
    digits = get_currency_precision(currency)
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    if digits == 0:
        return f"{sign}{amount}"
    return f"{sign}{amount // 10**digits}.{amount % 10**digits:0{digits}d}"


def from_decimal_text(text: str, currency: str) -> int:
    """A provider's decimal text as minor units: "5000.00" RUB -> 500000; ValueError for anything
    with more digits than the currency has."""
    digits = get_currency_precision(currency)
    whole, _, fraction = str(text).strip().partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(fraction) > digits:
        raise ValueError(f"not an amount of {currency}: {text!r}")
    return int(whole) * 10**digits + int(fraction.ljust(digits, "0") or 0)
