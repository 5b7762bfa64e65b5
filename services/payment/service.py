"""Use cases of money coming in and going back: top-ups through a provider and their webhooks,
manual payments, refunds, an admin's corrections, a teacher's policy.

No transaction is open while a provider is called: a top-up is recorded as pending first, created
at the provider (with the payment's id as the provider's idempotency key), then given the
provider's id; refunds are in `refunds.py`, and what a crash left between the steps in
`recovery.py`. A webhook is trusted only as far as its provider says (`providers`); the payment
row is locked, so a notification delivered twice, even at once to two instances, completes the
payment once.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import Counter
from sqlalchemy import select

from services.payment import ledger
from services.payment.domain import EntryKind, PaymentStatus
from services.payment.models import Payment, TeacherPolicy
from services.payment.providers import BadNotification, Checkout, Created, Notice, Providers, ProviderUnavailable
from services.payment.roster import people
from services.payment.schemas import CorrectionCreate, ManualPaymentCreate, PolicyUpdate, TopUpCreate
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound, Unprocessable
from shared.events import PaymentCompleted, utcnow
from shared.people import Directory

log = logging.getLogger(__name__)

PAYMENTS = Counter("repitbot_payments_total", "Payments by provider and the status they reached",
                   ["provider", "status"])
WEBHOOKS = Counter("repitbot_payment_webhooks_total", "Provider notifications by outcome",
                   ["provider", "outcome"])


# --- top-ups ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TopUpContext:
    providers: Providers
    directory: Directory
    return_url: str


async def create_top_up(uow: UnitOfWork, actor: Principal, data: TopUpCreate, ctx: TopUpContext) -> Payment:
    """A pending payment at the provider for the student's account with one of their teachers:
    recorded first (without the provider's id), created at the provider outside any transaction
    (keyed by the payment's id), then given the provider's id and confirmation URL. When the
    provider fails, the payment is marked failed and the error (503) goes to the caller."""
    provider = ctx.providers.for_top_up(data.provider)
    payment = await _record_top_up(uow, actor, data, ctx.directory, provider.name)
    try:
        created = await provider.create(checkout(payment, ctx.return_url))
    except ProviderUnavailable:
        await fail_top_up(uow, payment.id)
        raise
    return await store_created(uow, payment.id, created)


async def _record_top_up(uow: UnitOfWork, actor: Principal, data: TopUpCreate, directory: Directory,
                         provider: str) -> Payment:
    async with uow:
        student_id = await _payer_student(uow, actor, data.student_id, directory)
        teacher_id = await _teacher_of(uow, student_id, data.teacher_id, directory)
        account = await ledger.locked_account(uow.session, student_id, teacher_id, data.amount.currency,
                                               lock=False)   # its id only: no balance moves yet
        payment = Payment(id=uuid.uuid4(), account_id=account.id, student_id=student_id, teacher_id=teacher_id,
                          payer_id=actor.id, provider=provider, amount=data.amount.amount,
                          currency=data.amount.currency, refunded=0, refunding=0, status=PaymentStatus.PENDING,
                          created_at=utcnow())
        uow.session.add(payment)
        await uow.commit()
    return payment


def checkout(payment: Payment, return_url: str) -> Checkout:
    """What the provider is asked to create for a top-up; the same for every try of it."""
    return Checkout(payment.id, payment.amount, payment.currency, "RepitBot: lessons top-up", return_url)


async def store_created(uow: UnitOfWork, payment_id: uuid.UUID, created: Created) -> Payment:
    """The provider's id and confirmation URL of a top-up; the first stored stays (the provider
    answers every try of one top-up with the same payment)."""
    async with uow:
        payment = await uow.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
        if payment is None:
            raise NotFound("No such payment")
        if payment.provider_payment_id is None:
            payment.provider_payment_id = created.provider_payment_id
            payment.confirmation_url = created.confirmation_url
            provider = payment.provider
            uow.after_commit(lambda: PAYMENTS.labels(provider, "pending").inc())
        await uow.commit()   # also when there is nothing to write: a rollback would expire what it loaded
    return payment


async def fail_top_up(uow: UnitOfWork, payment_id: uuid.UUID) -> None:
    """The provider did not create it (or is gone): the top-up ends as failed, nothing else changes."""
    async with uow:
        payment = await uow.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
        if payment is not None and payment.provider_payment_id is None and payment.status == PaymentStatus.PENDING:
            payment.status = PaymentStatus.FAILED
            provider = payment.provider
            uow.after_commit(lambda: PAYMENTS.labels(provider, "failed").inc())
            await uow.commit()


async def _payer_student(uow: UnitOfWork, actor: Principal, student_id: uuid.UUID | None,
                         directory: Directory) -> uuid.UUID:
    if actor.role == "student":
        if student_id not in (None, actor.id):
            raise NotFound("No such student")
        return actor.id
    if student_id is None:
        raise Unprocessable("A parent names the child", errors=[{"loc": ["body", "student_id"], "msg": "required"}])
    if not await people.confirm_parent(uow.session, directory, actor.id, student_id):
        raise NotFound("No such student")
    return student_id


async def _teacher_of(uow: UnitOfWork, student_id: uuid.UUID, teacher_id: uuid.UUID | None,
                      directory: Directory) -> uuid.UUID:
    """The named teacher (who must teach the student), or the student's only one."""
    if teacher_id is not None:
        if not await people.confirm_teacher(uow.session, directory, teacher_id, student_id):
            raise Unprocessable("The student is not linked to this teacher",
                                errors=[{"loc": ["body", "teacher_id"], "msg": "not the student's teacher"}])
        return teacher_id
    teachers = await people.teachers_of(uow.session, student_id)
    if len(teachers) != 1:
        raise Unprocessable("Name the teacher whose lessons this pays for",
                            errors=[{"loc": ["body", "teacher_id"],
                                     "msg": "required: the student has no teacher or several"}])
    return teachers[0]


# --- webhooks --------------------------------------------------------------------------
async def handle_webhook(uow: UnitOfWork, providers: Providers, name: str, body: bytes,
                         headers: Mapping[str, str], client_ip: str | None) -> str:
    """Apply one provider notification; what it did. `BadNotification` (400) changes nothing but
    the refused payment's flag."""
    provider = providers.get(name)
    try:
        notice = await provider.notice(body, headers, client_ip)
    except BadNotification:
        WEBHOOKS.labels(name, "refused").inc()
        raise
    if notice is None:
        WEBHOOKS.labels(name, "ignored").inc()
        return "ignored"
    outcome, refusal = await _apply_notice(uow, name, notice)
    WEBHOOKS.labels(name, outcome).inc()
    if refusal:
        raise BadNotification(refusal)
    return outcome


async def _apply_notice(uow: UnitOfWork, name: str, notice: Notice) -> tuple[str, str | None]:
    async with uow:
        payment = await uow.session.scalar(
            select(Payment).where(Payment.provider == name, Payment.provider_payment_id == notice.provider_payment_id)
            .with_for_update().execution_options(populate_existing=True))
        if payment is None:
            log.warning("a %s notification for an unknown payment %s", name, notice.provider_payment_id)
            return "ignored", None
        if payment.status != PaymentStatus.PENDING:
            return "already_done", None
        if notice.failed:
            payment.status = PaymentStatus.FAILED
            await uow.commit()
            PAYMENTS.labels(name, "failed").inc()
            return "failed", None
        if not notice.paid:
            return "refused", "The provider does not say this payment is paid"
        if notice.amount is not None and (notice.amount, notice.currency) != (payment.amount, payment.currency):
            payment.flag = f"notified {notice.amount} {notice.currency}, expected {payment.amount} {payment.currency}"
            log.error("payment %s refused: %s", payment.id, payment.flag)
            await uow.commit()
            return "refused", "The amount does not match the payment"
        await _complete(uow, payment, EntryKind.TOP_UP)
        await uow.commit()
    return "completed", None


async def _complete(uow: UnitOfWork, payment: Payment, kind: EntryKind, *, actor_id: uuid.UUID | None = None) -> None:
    account = await ledger.account_by_id(uow.session, payment.account_id)
    payment.status, payment.completed_at = PaymentStatus.COMPLETED, utcnow()
    await ledger.append(uow, account, kind, payment.amount, payment_id=payment.id, actor_id=actor_id,
                        reason=payment.note)
    uow.emit(PaymentCompleted(payment_id=payment.id, student_id=payment.student_id, payer_id=payment.payer_id,
                              amount=payment.amount, currency=payment.currency, provider=payment.provider,
                              teacher_id=payment.teacher_id))
    provider = payment.provider
    uow.after_commit(lambda: PAYMENTS.labels(provider, "completed").inc())


# --- manual payments, corrections ------------------------------------------------------
async def record_manual_payment(uow: UnitOfWork, actor: Principal, data: ManualPaymentCreate,
                                directory: Directory) -> Payment:
    """Cash or a transfer the teacher received from their student's family: completed at once."""
    async with uow:
        if not await people.confirm_teacher(uow.session, directory, actor.id, data.student_id):
            raise NotFound("No such student")
        account = await ledger.locked_account(uow.session, data.student_id, actor.id, data.amount.currency)
        payment = Payment(id=uuid.uuid4(), account_id=account.id, student_id=data.student_id, teacher_id=actor.id,
                          payer_id=data.payer_id or data.student_id, provider="manual", amount=data.amount.amount,
                          currency=data.amount.currency, refunded=0, refunding=0, status=PaymentStatus.PENDING,
                          note=data.note, created_at=utcnow())
        payment.provider_payment_id = str(payment.id)
        uow.session.add(payment)
        await uow.session.flush()
        await _complete(uow, payment, EntryKind.MANUAL_PAYMENT, actor_id=actor.id)
        await uow.commit()
    return payment


async def correct(uow: UnitOfWork, actor: Principal, data: CorrectionCreate) -> ledger.LedgerEntry:
    """An admin's correction of an account, with the reason kept in the ledger."""
    async with uow:
        account = await ledger.locked_account(uow.session, data.student_id, data.teacher_id, data.currency)
        entry = await ledger.append(uow, account, EntryKind.CORRECTION, data.amount, actor_id=actor.id,
                                    reason=data.reason)
        await uow.commit()
    return entry


async def get_payment(uow: UnitOfWork, actor: Principal, payment_id: uuid.UUID) -> Payment:
    async with uow.read_only():
        payment = await uow.session.get(Payment, payment_id)
        if payment is None:
            raise NotFound("No such payment")
        seen_by = {payment.payer_id, payment.student_id, payment.teacher_id}
        if actor.role != "admin" and actor.id not in seen_by and not (
                actor.role == "parent" and await people.is_parent_of(uow.session, actor.id, payment.student_id)):
            raise NotFound("No such payment")
    return payment


# --- the teacher's policy ----------------------------------------------------------------
async def get_policy(uow: UnitOfWork, teacher_id: uuid.UUID) -> TeacherPolicy:
    async with uow.read_only():
        return await ledger.policy_of(uow.session, teacher_id)


async def set_policy(uow: UnitOfWork, teacher_id: uuid.UUID, data: PolicyUpdate) -> TeacherPolicy:
    async with uow:
        policy = await uow.session.get(TeacherPolicy, teacher_id, with_for_update=True)
        if policy is None:
            policy = TeacherPolicy(teacher_id=teacher_id)
            uow.session.add(policy)
        policy.late_cancel_percent, policy.late_cancel_hours = data.late_cancel_percent, data.late_cancel_hours
        policy.low_balance_threshold, policy.updated_at = data.low_balance_threshold, utcnow()
        await uow.commit()
    return policy
