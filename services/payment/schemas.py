"""Request and response bodies of the payment API. Amounts are integers of minor units with an
ISO 4217 currency, never floats."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.payment.domain import MAX_AMOUNT, EntryKind, PaymentStatus
from services.payment.models import Account, LedgerEntry, Payment, TeacherPolicy

Currency = Field("RUB", pattern=r"^[A-Z]{3}$", examples=["RUB"], description="ISO 4217")


class Money(BaseModel):
    """An amount in minor units (kopecks, cents) and an ISO 4217 currency."""

    amount: int = Field(examples=[500000])
    currency: str = Currency


class PositiveMoney(Money):
    amount: int = Field(gt=0, le=MAX_AMOUNT, examples=[500000])


class TopUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "amount": {"amount": 500000, "currency": "RUB"}, "provider": "yookassa"}]})

    amount: PositiveMoney
    provider: Literal["demo", "yookassa", "stripe"] | None = Field(
        None, description="The platform's default provider when absent")
    student_id: uuid.UUID | None = Field(None, description="A parent's child; a student tops up their own account")
    teacher_id: uuid.UUID | None = Field(None, description="Whose account; needed when the student has several teachers")


class ManualPaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: uuid.UUID
    amount: PositiveMoney
    payer_id: uuid.UUID | None = Field(None, description="Who paid (a parent); the student when absent")
    note: str | None = Field(None, max_length=500, description="Cash, a bank transfer...")


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(None, gt=0, le=MAX_AMOUNT, description="Minor units; all that is left when absent")
    reason: str | None = Field(None, max_length=500)


class CorrectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    student_id: uuid.UUID
    teacher_id: uuid.UUID
    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Signed minor units; not zero")
    currency: str = Currency
    reason: str = Field(min_length=1, max_length=500)


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    late_cancel_percent: int = Field(0, ge=0, le=100, description="Charged when the student cancels late")
    late_cancel_hours: int = Field(24, ge=0, le=24 * 14, description="Late means less than this before the start")
    low_balance_threshold: int | None = Field(
        None, ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Minor units; the price of one lesson when absent")


class PolicyPublic(PolicyUpdate):
    teacher_id: uuid.UUID

    @classmethod
    def of(cls, policy: TeacherPolicy) -> PolicyPublic:
        return cls(teacher_id=policy.teacher_id, late_cancel_percent=policy.late_cancel_percent,
                   late_cancel_hours=policy.late_cancel_hours, low_balance_threshold=policy.low_balance_threshold)


class PaymentPublic(BaseModel):
    id: uuid.UUID
    status: PaymentStatus
    provider: str
    student_id: uuid.UUID
    teacher_id: uuid.UUID
    payer_id: uuid.UUID
    amount: Money
    refunded: int
    confirmation_url: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, p: Payment) -> PaymentPublic:
        return cls(id=p.id, status=PaymentStatus(p.status), provider=p.provider, student_id=p.student_id,
                   teacher_id=p.teacher_id, payer_id=p.payer_id, amount=Money(amount=p.amount, currency=p.currency),
                   refunded=p.refunded, confirmation_url=p.confirmation_url, created_at=p.created_at,
                   completed_at=p.completed_at)


class AccountPublic(BaseModel):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str | None = None
    teacher_id: uuid.UUID
    balance: Money
    debt: int = Field(description="Minor units owed (0 when the balance is not negative)")
    low_balance: bool

    @classmethod
    def of(cls, a: Account, names: dict[uuid.UUID, str] | None = None) -> AccountPublic:
        return cls(id=a.id, student_id=a.student_id, student_name=(names or {}).get(a.student_id),
                   teacher_id=a.teacher_id, balance=Money(amount=a.balance, currency=a.currency),
                   debt=max(-a.balance, 0), low_balance=a.low_balance)


class BalancePublic(BaseModel):
    student_id: uuid.UUID
    balance: Money | None = Field(description="The account's (with `teacher_id`), else the total when all "
                                              "accounts share one currency; null otherwise")
    accounts: list[AccountPublic]


class TransactionPublic(BaseModel):
    id: uuid.UUID
    kind: EntryKind
    amount: Money = Field(description="Signed: what the entry did to the balance")
    balance_after: int
    student_id: uuid.UUID
    teacher_id: uuid.UUID
    payment_id: uuid.UUID | None
    lesson_id: uuid.UUID | None
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, e: LedgerEntry) -> TransactionPublic:
        return cls(id=e.id, kind=EntryKind(e.kind), amount=Money(amount=e.amount, currency=e.currency),
                   balance_after=e.balance_after, student_id=e.student_id, teacher_id=e.teacher_id,
                   payment_id=e.payment_id, lesson_id=e.lesson_id, reason=e.reason, created_at=e.created_at)


class MonthIncome(BaseModel):
    month: str = Field(examples=["2026-03"], description="In the teacher's time zone")
    currency: str
    received: int = Field(description="Top-ups and manual payments, minor units")
    refunded: int
    net: int
    charged: int = Field(description="Lesson and late-cancel charges")


class IncomePublic(BaseModel):
    teacher_id: uuid.UUID
    year: int
    months: list[MonthIncome]


class WebhookAnswer(BaseModel):
    status: Literal["completed", "failed", "already_done", "ignored"]
