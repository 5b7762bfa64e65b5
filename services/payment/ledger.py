"""The ledger: the one place that changes a balance.

An entry is appended under a lock of its account row (`SELECT ... FOR UPDATE` on PostgreSQL;
the embedded mode's SQLite writers are serialised by `BEGIN IMMEDIATE`), in the transaction that
updates the stored balance and stages `balance.updated`, so the stored balance is always the
sum of the entries. Lock order everywhere: a payment's row before its account's.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.payment.domain import EntryKind, LowBalance, post, threshold_of
from services.payment.models import Account, LedgerEntry, TeacherPolicy
from shared.db import UnitOfWork
from shared.events import BalanceUpdated, utcnow
from shared.sql import insert_for

LEDGER_ENTRIES = Counter("repitbot_ledger_entries_total", "Ledger entries appended", ["kind"])
LOW_BALANCE_CROSSINGS = Counter("repitbot_low_balance_crossings_total",
                                "Accounts that went under their teacher's low-balance threshold")


async def locked_account(session: AsyncSession, student_id: uuid.UUID, teacher_id: uuid.UUID,
                         currency: str, *, lock: bool = True) -> Account:
    """The student's account with the teacher in `currency` (opened when missing), locked for
    this transaction unless `lock` is false (to read its id only)."""
    await session.execute(insert_for(session, Account).values(
        id=uuid.uuid4(), student_id=student_id, teacher_id=teacher_id, currency=currency, balance=0,
        low_balance=False, created_at=utcnow(), updated_at=utcnow()).on_conflict_do_nothing())
    stmt = (select(Account).where(Account.student_id == student_id, Account.teacher_id == teacher_id,
                                  Account.currency == currency).execution_options(populate_existing=True))
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).one()


async def account_by_id(session: AsyncSession, account_id: uuid.UUID) -> Account:
    stmt = select(Account).where(Account.id == account_id).with_for_update().execution_options(
        populate_existing=True)
    return (await session.scalars(stmt)).one()


async def policy_of(session: AsyncSession, teacher_id: uuid.UUID) -> TeacherPolicy:
    """The teacher's policy, or the defaults (no late-cancel charge, threshold of one lesson)."""
    return await session.get(TeacherPolicy, teacher_id) or TeacherPolicy(
        teacher_id=teacher_id, late_cancel_percent=0, late_cancel_hours=24, low_balance_threshold=None)


async def append(uow: UnitOfWork, account: Account, kind: EntryKind, amount: int, *,
                 payment_id: uuid.UUID | None = None, lesson_id: uuid.UUID | None = None,
                 actor_id: uuid.UUID | None = None, reason: str | None = None,
                 now: datetime | None = None) -> LedgerEntry:
    """Append one entry to a locked account and move its balance; stage `balance.updated`."""
    now = now or utcnow()
    policy = await policy_of(uow.session, account.teacher_id)
    posting = post(account.balance, account.low_balance, kind, amount,
                   threshold_of(policy.low_balance_threshold, account.lesson_price))
    account.balance, account.low_balance, account.updated_at = posting.balance, posting.low.low, now
    state = posting.low
    entry = LedgerEntry(id=uuid.uuid4(), account_id=account.id, student_id=account.student_id,
                        teacher_id=account.teacher_id, kind=kind.value, amount=posting.delta, currency=account.currency,
                        balance_after=account.balance, payment_id=payment_id, lesson_id=lesson_id,
                        actor_id=actor_id, reason=reason, created_at=now)
    uow.session.add(entry)
    uow.emit(_balance_updated(account, entry, state))
    uow.after_commit(lambda: _count(kind, state))
    return entry


def _balance_updated(account: Account, entry: LedgerEntry, state: LowBalance) -> BalanceUpdated:
    return BalanceUpdated(student_id=account.student_id, balance=account.balance, currency=account.currency,
                          reason=entry.kind, transaction_id=entry.id, teacher_id=account.teacher_id,
                          account_id=account.id, low_balance=state.low, low_balance_crossed=state.crossed,
                          threshold=state.threshold)


def _count(kind: EntryKind, state: LowBalance) -> None:
    LEDGER_ENTRIES.labels(kind.value).inc()
    if state.crossed:
        LOW_BALANCE_CROSSINGS.inc()


async def lesson_entry_exists(session: AsyncSession, kind: EntryKind, lesson_id: uuid.UUID) -> bool:
    found = await session.scalar(select(LedgerEntry.id).where(LedgerEntry.kind == kind.value,
                                                              LedgerEntry.lesson_id == lesson_id))
    return found is not None
