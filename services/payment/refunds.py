"""Refunds, with the provider's call outside any transaction.

1. A short transaction locks the payment, checks the amount against what is left of it counting
   the refunds in flight (`Payment.refunding`), reserves it there and records a pending `Refund`;
   two refunds at once can never exceed the payment, and no lock is held during the call.
2. The provider is called with the refund's id as its idempotency key.
3. Another short transaction completes the refund (its ledger entry and `payment.refunded`, through
   the outbox) or, when the provider refused it, releases the reservation.

When the provider's answer is unknown (a timeout, a 5xx) or the process stopped before step 3,
the refund stays pending: a retry with the same `Idempotency-Key` resumes it, and the recovery
loop (`recovery.py`) repeats the call with the same key and completes it, once.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from prometheus_client import Counter
from sqlalchemy import select

from services.payment import ledger
from services.payment.domain import EntryKind, RefundStatus, check_refund
from services.payment.models import Payment, Refund
from services.payment.providers import ProviderRefused, Providers, ProviderUnavailable
from services.payment.schemas import RefundCreate
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, NotFound
from shared.events import PaymentRefunded, utcnow

log = logging.getLogger(__name__)

REFUNDS = Counter("repitbot_refunds_total", "Refunds recorded", ["provider"])
LEFT_PENDING = Counter("repitbot_payment_calls_left_pending_total",
                       "Provider calls whose outcome was not known when the request ended (left to the "
                       "recovery loop)", ["operation"])


@dataclass(frozen=True)
class Reserved:
    """A pending refund and its payment, as the first transaction left them."""

    refund_id: uuid.UUID
    amount: int
    status: str
    payment: Payment


async def refund(uow: UnitOfWork, actor: Principal, payment_id: uuid.UUID, data: RefundCreate,
                 providers: Providers, request: str | None = None) -> Payment:
    """Give back part or all of a payment through its provider; never more than is left of it,
    however many refunds run at once. `request` names the request's `Idempotency-Key`: a retry
    with it resumes the refund it began rather than starting another."""
    reserved = await _reserve(uow, actor, payment_id, data, request)
    if reserved.status != RefundStatus.PENDING:
        return reserved.payment
    try:
        return await settle(uow, providers, reserved)
    except ProviderRefused:
        raise
    except ProviderUnavailable:
        LEFT_PENDING.labels("refund").inc()
        log.warning("refund %s of payment %s left pending: the provider's answer is not known",
                    reserved.refund_id, payment_id)
        raise


async def settle(uow: UnitOfWork, providers: Providers, reserved: Reserved) -> Payment:
    """Call the provider for a pending refund (again: the key makes it one refund there), then
    record its answer. `ProviderRefused` (or `NotFound`, the provider is gone) releases it;
    `ProviderUnavailable` leaves it pending."""
    payment = reserved.payment
    try:
        await providers.get(payment.provider).refund(payment.provider_payment_id or "", reserved.amount,
                                                     payment.currency, str(reserved.refund_id))
    except (ProviderRefused, NotFound):   # refused, or a provider no longer configured here
        await release(uow, reserved)
        raise
    return await complete(uow, reserved)


async def _reserve(uow: UnitOfWork, actor: Principal, payment_id: uuid.UUID, data: RefundCreate,
                   request: str | None) -> Reserved:
    async with uow:
        payment = await _locked_payment(uow, payment_id)
        if payment is None or not (actor.role == "admin" or payment.teacher_id == actor.id):
            raise NotFound("No such payment")
        if request is not None and (earlier := await uow.session.scalar(
                select(Refund).where(Refund.request == request))) is not None:
            if earlier.payment_id != payment.id or data.amount not in (None, earlier.amount):
                raise Conflict("This Idempotency-Key was used with a different request")
            await uow.commit()   # nothing to write; ends without the rollback that would expire them
            return Reserved(earlier.id, earlier.amount, earlier.status, payment)
        amount = check_refund(payment.status, payment.amount, payment.refunded, data.amount, payment.refunding)
        pending = Refund(id=uuid.uuid4(), payment_id=payment.id, amount=amount, status=RefundStatus.PENDING,
                         request=request, actor_id=actor.id, reason=data.reason, created_at=utcnow())
        payment.refunding += amount
        uow.session.add(pending)
        await uow.commit()
    return Reserved(pending.id, amount, RefundStatus.PENDING, payment)


async def complete(uow: UnitOfWork, reserved: Reserved) -> Payment:
    """The provider refunded it: the ledger entry and `payment.refunded`, once (a refund already
    settled, by a retry or the recovery loop, is left as it is)."""
    async with uow:
        payment = await _locked_payment(uow, reserved.payment.id)
        pending = await uow.session.get(Refund, reserved.refund_id, populate_existing=True)
        if payment is not None and pending is not None and pending.status == RefundStatus.PENDING:
            payment.refunding -= pending.amount
            payment.refunded += pending.amount
            pending.status, pending.settled_at = RefundStatus.COMPLETED, utcnow()
            account = await ledger.account_by_id(uow.session, payment.account_id)
            await ledger.append(uow, account, EntryKind.REFUND, pending.amount, payment_id=payment.id,
                                actor_id=pending.actor_id, reason=pending.reason)
            uow.emit(PaymentRefunded(payment_id=payment.id, student_id=payment.student_id, amount=pending.amount,
                                     currency=payment.currency, teacher_id=payment.teacher_id))
            provider = payment.provider
            uow.after_commit(lambda: REFUNDS.labels(provider).inc())
        await uow.commit()
    return payment or reserved.payment


async def release(uow: UnitOfWork, reserved: Reserved) -> None:
    """The provider refused it: the reserved amount is free again, and the request's key with it."""
    async with uow:
        payment = await _locked_payment(uow, reserved.payment.id)
        pending = await uow.session.get(Refund, reserved.refund_id, populate_existing=True)
        if payment is not None and pending is not None and pending.status == RefundStatus.PENDING:
            payment.refunding -= pending.amount
            pending.status, pending.settled_at, pending.request = RefundStatus.FAILED, utcnow(), None
            await uow.commit()


async def _locked_payment(uow: UnitOfWork, payment_id: uuid.UUID) -> Payment | None:
    return await uow.session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update()
                                    .execution_options(populate_existing=True))
