"""Settling what a crash (or an unknown outcome) left between a provider's call and the
transaction that records its answer: top-ups still without the provider's id, refunds still
pending, once older than `PAYMENT_RECOVERY_AFTER_SECONDS`.

The service asks the provider by repeating the call with the same idempotency key (the
payment's id for a top-up, the refund's id for a refund): the provider answers what the first
call did, or does it now if it never arrived, and never does it twice. The answer is recorded by
the same functions a request uses, which settle a top-up or a refund once however many
instances (or retries) record it at once.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import select

from services.payment import refunds, service
from services.payment.deps import PaymentDeps
from services.payment.domain import PaymentStatus, RefundStatus
from services.payment.models import Payment, Refund
from services.payment.providers import ProviderRefused, ProviderUnavailable
from shared.app import ServiceContext
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.events import utcnow

log = logging.getLogger(__name__)

RECOVERED = Counter("repitbot_payment_recoveries_total",
                    "Top-ups and refunds left unsettled that the recovery loop settled, by outcome",
                    ["operation", "outcome"])
BATCH = 100


async def recover_pending(ctx: ServiceContext, deps: PaymentDeps) -> None:
    """The background loop: every half of the recovery age (at most 30 s), settle what is overdue."""
    after = deps.settings.payment_recovery_after_seconds
    while True:
        try:
            await recover_once(ctx.uow_factory(), deps, older_than=timedelta(seconds=after))
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: a background loop logs and tries again later
            log.exception("settling pending payments failed; retrying later")
        await asyncio.sleep(min(after / 2, 30.0))


async def recover_once(uow: UnitOfWork, deps: PaymentDeps, *, older_than: timedelta) -> int:
    """Settle the top-ups and refunds overdue now; how many were settled."""
    top_ups, pending = await _overdue(uow, utcnow() - older_than)
    settled = 0
    for payment_id in top_ups:
        settled += await _recover_top_up(uow, deps, payment_id)
    for refund_id in pending:
        settled += await _recover_refund(uow, deps, refund_id)
    return settled


async def _overdue(uow: UnitOfWork, before: datetime) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    async with uow.read_only():
        top_ups = list(await uow.session.scalars(
            select(Payment.id).where(Payment.provider_payment_id.is_(None), Payment.status == PaymentStatus.PENDING,
                                     Payment.created_at < before).order_by(Payment.created_at).limit(BATCH)))
        pending = list(await uow.session.scalars(
            select(Refund.id).where(Refund.status == RefundStatus.PENDING, Refund.created_at < before)
            .order_by(Refund.created_at).limit(BATCH)))
    return top_ups, pending


async def _recover_top_up(uow: UnitOfWork, deps: PaymentDeps, payment_id: uuid.UUID) -> int:
    """Create the top-up at its provider again (the same key: the same payment there) and store
    its id, so the provider's notifications find it."""
    async with uow.read_only():
        payment = await uow.session.get(Payment, payment_id)
    if payment is None or payment.provider_payment_id is not None:
        return 0
    try:
        created = await deps.providers.get(payment.provider).create(
            service.checkout(payment, deps.settings.payment_return_url))
    except (ProviderRefused, NotFound):
        await service.fail_top_up(uow, payment_id)
        RECOVERED.labels("top_up", "failed").inc()
        log.warning("top-up %s refused by its provider; marked failed", payment_id)
        return 1
    except ProviderUnavailable as exc:
        log.warning("top-up %s is still unsettled: %s", payment_id, exc)
        return 0
    await service.store_created(uow, payment_id, created)
    RECOVERED.labels("top_up", "created").inc()
    log.info("top-up %s settled by the recovery loop", payment_id)
    return 1


async def _recover_refund(uow: UnitOfWork, deps: PaymentDeps, refund_id: uuid.UUID) -> int:
    """Repeat the refund's call (the same key: one refund there), then complete or release it."""
    async with uow.read_only():
        pending = await uow.session.get(Refund, refund_id)
        payment = pending and await uow.session.get(Payment, pending.payment_id)
    if pending is None or payment is None or pending.status != RefundStatus.PENDING:
        return 0
    reserved = refunds.Reserved(pending.id, pending.amount, pending.status, payment)
    try:
        await refunds.settle(uow, deps.providers, reserved)
    except (ProviderRefused, NotFound):
        RECOVERED.labels("refund", "released").inc()
        log.warning("refund %s refused by the provider; its amount is released", refund_id)
        return 1
    except ProviderUnavailable as exc:
        log.warning("refund %s is still unsettled: %s", refund_id, exc)
        return 0
    RECOVERED.labels("refund", "completed").inc()
    log.info("refund %s settled by the recovery loop", refund_id)
    return 1
