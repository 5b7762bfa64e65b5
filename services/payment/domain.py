"""The payment service's rules, in plain functions without I/O.

Money is an integer number of minor units (kopecks, cents) in one ISO 4217 currency; nothing
here ever sees a float. A balance is the sum of an account's ledger entries; an entry is only
ever appended. These functions decide what an entry may be; `service.py` appends it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, NotFound, Unprocessable

MAX_AMOUNT = 10**12          # 10 billion roubles in kopecks: beyond any lesson or top-up
MAX_PERCENT = 100


class EntryKind(StrEnum):
    TOP_UP = "top_up"
    LESSON_CHARGE = "lesson_charge"
    LATE_CANCEL_CHARGE = "late_cancel_charge"
    REFUND = "refund"
    MANUAL_PAYMENT = "manual_payment"
    CORRECTION = "correction"


CREDITS = frozenset({EntryKind.TOP_UP, EntryKind.MANUAL_PAYMENT})
CHARGES = frozenset({EntryKind.LESSON_CHARGE, EntryKind.LATE_CANCEL_CHARGE})


class PaymentStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class RefundStatus(StrEnum):
    PENDING = "pending"       # reserved on the payment; the provider's answer not recorded yet
    COMPLETED = "completed"
    FAILED = "failed"         # the provider refused it: the reservation is released


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("money is an integer number of minor units")


def signed_amount(kind: EntryKind, amount: int) -> int:
    """The change an entry makes to the balance: credits add, charges and refunds take away
    (a refund returns money the account held); a correction carries its own sign."""
    if kind is EntryKind.CORRECTION:
        if amount == 0 or abs(amount) > MAX_AMOUNT:
            raise Unprocessable("A correction is a non-zero amount",
                                errors=[{"loc": ["body", "amount"], "msg": "non-zero, at most 10^12"}])
        return amount
    if amount <= 0 or amount > MAX_AMOUNT:
        raise Unprocessable("An amount is a positive number of minor units",
                            errors=[{"loc": ["body", "amount"], "msg": "positive, at most 10^12"}])
    return amount if kind in CREDITS else -amount


def refundable(paid: int, refunded: int) -> int:
    """What is left to refund of a payment."""
    return max(paid - refunded, 0)


def check_refund(status: str, paid: int, refunded: int, amount: int | None, refunding: int = 0) -> int:
    """The amount to refund (all that is left when None); never more than was paid, counting
    the refunds still in flight (`refunding`) as done."""
    if status != PaymentStatus.COMPLETED:
        raise Conflict("Only a completed payment can be refunded")
    left = refundable(paid, refunded + refunding)
    wanted = left if amount is None else amount
    if left == 0:
        raise Conflict("The rest of this payment is being refunded now" if refunding
                       else "This payment has been refunded in full")
    if wanted <= 0 or wanted > left:
        raise Conflict(f"At most {left} minor units of this payment can be refunded",
                       errors=[{"loc": ["body", "amount"], "msg": f"at most {left}"}])
    return wanted


@dataclass(frozen=True)
class LateCancelPolicy:
    """Charge `percent` of the price when the student cancels less than `hours` before the start."""

    percent: int = 0
    hours: int = 24

    def charge(self, price: int | None, starts_at: datetime, cancelled_at: datetime) -> int:
        """Minor units to charge for a cancellation by the student (0: none). Rounds half up."""
        if not price or self.percent <= 0 or starts_at - cancelled_at >= timedelta(hours=self.hours):
            return 0
        return (price * self.percent + 50) // 100


def cancelled_by_student(role: str | None, cancelled_by: uuid.UUID, student_id: uuid.UUID) -> bool:
    """The student (or a parent for them) cancelled; a teacher's cancellation costs the family nothing."""
    if role is not None:
        return role in ("student", "parent")
    return cancelled_by == student_id


@dataclass(frozen=True)
class LowBalance:
    """The account's low-balance state after an entry; `crossed` only when it has just gone low."""

    low: bool
    crossed: bool
    threshold: int


def low_balance(balance: int, threshold: int, was_low: bool) -> LowBalance:
    """Below the threshold is low; a notice is due once per crossing, not on every charge below it."""
    low = balance < threshold
    return LowBalance(low=low, crossed=low and not was_low, threshold=threshold)


@dataclass(frozen=True)
class Posting:
    """What appending an entry does to an account: the signed change, the new balance, its low state."""

    delta: int
    balance: int
    low: LowBalance


def post(balance: int, was_low: bool, kind: EntryKind, amount: int, threshold: int) -> Posting:
    """Append an entry of `kind` for `amount` minor units to an account holding `balance`."""
    delta = signed_amount(kind, amount)
    return Posting(delta=delta, balance=balance + delta, low=low_balance(balance + delta, threshold, was_low))


def threshold_of(configured: int | None, lesson_price: int | None) -> int:
    """The teacher's threshold, or by default the price of one lesson (0 before any priced lesson)."""
    if configured is not None:
        return configured
    return lesson_price or 0


def ensure_found(found: object | None, what: str = "Not found") -> None:
    if found is None:
        raise NotFound(what)
