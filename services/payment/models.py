"""The payment service's tables, on its own metadata: no other service reads them. After a
change, `repitbot makemigrations payment -m "what changed"` writes the migration.

An account is one student's money with one teacher in one currency. Its `balance` is kept for
speed and is always the sum of its `ledger_entries` (`balance_after` of the newest entry):
every entry is appended in the transaction that updates the balance, under a lock of the
account row. Entries are never updated or deleted. The unique (kind, lesson_id) makes a lesson
chargeable once, whatever the deliveries of its event.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Index, Integer, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from services.payment.domain import PaymentStatus, RefundStatus
from shared.events import utcnow
from shared.idempotency import IdempotencyKeyMixin
from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, UtcDateTime, new_metadata


class PaymentBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Account(PaymentBase):
    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    low_balance: Mapped[bool] = mapped_column(Boolean, default=False)
    lesson_price: Mapped[int | None] = mapped_column(BigInteger)   # the last lesson charged
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("student_id", "teacher_id", "currency"),)


class LedgerEntry(PaymentBase):
    __tablename__ = "ledger_entries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(30))
    amount: Mapped[int] = mapped_column(BigInteger)          # signed: what it did to the balance
    currency: Mapped[str] = mapped_column(String(3))
    balance_after: Mapped[int] = mapped_column(BigInteger)
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("kind", "lesson_id"),   # NULLs differ: only lesson entries are unique
        Index("ix_ledger_entries_account_created", "account_id", "created_at"),
        Index("ix_ledger_entries_teacher_created", "teacher_id", "created_at"),
        Index("ix_ledger_entries_student_created", "student_id", "created_at"),
        CheckConstraint("amount <> 0", name="non_zero"),
    )


class Payment(PaymentBase):
    """Money paid in for a student's account: by a provider (pending until its notification) or by hand."""

    __tablename__ = "payments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    payer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider: Mapped[str] = mapped_column(String(20))
    provider_payment_id: Mapped[str | None] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    refunding: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # refunds in flight
    status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.PENDING)
    confirmation_url: Mapped[str | None] = mapped_column(String(2000))
    flag: Mapped[str | None] = mapped_column(String(500))    # a notification refused, and why
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_id"),
        CheckConstraint("amount > 0", name="positive"),
        CheckConstraint("refunded >= 0 AND refunded <= amount", name="refund_at_most_paid"),
        CheckConstraint("refunding >= 0 AND refunded + refunding <= amount", name="in_flight_at_most_left"),
        # top-ups still being created at their provider, for the recovery loop
        Index("ix_payments_creating", "created_at", postgresql_where=text("provider_payment_id IS NULL"),
              sqlite_where=text("provider_payment_id IS NULL")),
    )


class Refund(PaymentBase):
    """One refund of a payment: `pending` from the moment its amount is reserved on the payment
    (`Payment.refunding`) until the provider's answer is recorded, then `completed` (with its
    ledger entry) or `failed` (the reservation released). Its id is the provider's idempotency
    key, the same however often the call is repeated."""

    __tablename__ = "refunds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.PENDING)
    # the request's Idempotency-Key (`Idempotency.scope`): a retry resumes this refund
    request: Mapped[str | None] = mapped_column(String(64), unique=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint("amount > 0", name="positive"),
        Index("ix_refunds_pending", "created_at", postgresql_where=text("status = 'pending'"),
              sqlite_where=text("status = 'pending'")),
    )


class TeacherPolicy(PaymentBase):
    """A teacher's own rules: the late-cancel charge and the low-balance threshold."""

    __tablename__ = "teacher_policies"

    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    late_cancel_percent: Mapped[int] = mapped_column(Integer, default=0)
    late_cancel_hours: Mapped[int] = mapped_column(Integer, default=24)
    low_balance_threshold: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyKey(IdempotencyKeyMixin, PaymentBase):
    """The answers to top-ups, manual payments and refunds, by `Idempotency-Key` (`shared.idempotency`)."""


# --- the read model of people (shared.people) ----------------------------------------------
class KnownUser(UserColumns, PaymentBase):
    pass


class TeacherLink(TeacherLinkColumns, PaymentBase):
    pass


class ParentLink(ParentLinkColumns, PaymentBase):
    pass
