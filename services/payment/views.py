"""What people read of the ledger: balances, accounts and debts, transactions (a page at a time
or as CSV), a teacher's income by month. A student sees their own accounts, a parent their
children's, a teacher their students' with them, an admin all; anything else is a 404."""
from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select

from services.payment.domain import CHARGES, CREDITS, EntryKind
from services.payment.models import Account, LedgerEntry
from services.payment.roster import ensure_may_see_student, people, students_visible
from services.payment.schemas import AccountPublic, BalancePublic, Money, MonthIncome
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Unprocessable
from shared.pagination import Page, PageParams, make_page
from shared.people import valid_zone

CSV_MAX_ROWS = 100_000
CSV_BATCH = 1000
CSV_COLUMNS = ("created_at", "kind", "amount", "currency", "balance_after", "student_id", "student_name",
               "teacher_id", "payment_id", "lesson_id", "reason", "id")


@dataclass(frozen=True)
class EntryFilter:
    student_id: uuid.UUID | None = None
    teacher_id: uuid.UUID | None = None
    kinds: tuple[str, ...] = ()
    since: datetime | None = None      # inclusive
    before: datetime | None = None     # exclusive


async def balance(uow: UnitOfWork, actor: Principal, student_id: uuid.UUID | None,
                  teacher_id: uuid.UUID | None) -> BalancePublic:
    """The student's accounts (a student's own when `student_id` is absent)."""
    student_id = student_id or actor.id
    async with uow.read_only():
        await ensure_may_see_student(uow.session, actor, student_id)
        stmt = select(Account).where(Account.student_id == student_id,
                                     await students_visible(uow.session, actor, Account.student_id, Account.teacher_id))
        if teacher_id is not None:
            stmt = stmt.where(Account.teacher_id == teacher_id)
        accounts = list(await uow.session.scalars(stmt.order_by(Account.created_at, Account.id)))
    currencies = {a.currency for a in accounts}
    total = Money(amount=sum(a.balance for a in accounts), currency=currencies.pop()) if len(currencies) == 1 else None
    return BalancePublic(student_id=student_id, balance=total, accounts=[AccountPublic.of(a) for a in accounts])


async def list_accounts(uow: UnitOfWork, actor: Principal, page: PageParams, *,
                        debts_only: bool = False) -> Page[AccountPublic]:
    """Every account the caller may see (a teacher: all their students'), oldest first."""
    async with uow.read_only():
        stmt = select(Account).where(await students_visible(uow.session, actor, Account.student_id, Account.teacher_id))
        if debts_only:
            stmt = stmt.where(Account.balance < 0)
        if (after := page.after(datetime, uuid.UUID)) is not None:
            stmt = stmt.where(or_(Account.created_at > after[0],
                                  and_(Account.created_at == after[0], Account.id > after[1])))
        rows = list(await uow.session.scalars(stmt.order_by(Account.created_at, Account.id).limit(page.limit + 1)))
        names = await people.names_of(uow.session, {a.student_id for a in rows})
    found = make_page(rows, page.limit, lambda a: [a.created_at.isoformat(), str(a.id)])
    return found.map(lambda a: AccountPublic.of(a, names))


async def list_entries(uow: UnitOfWork, actor: Principal, where: EntryFilter, page: PageParams) -> Page[LedgerEntry]:
    """Ledger entries, newest first."""
    async with uow.read_only():
        stmt = await _entries(uow, actor, where)
        if (after := page.after(datetime, uuid.UUID)) is not None:
            stmt = stmt.where(or_(LedgerEntry.created_at < after[0],
                                  and_(LedgerEntry.created_at == after[0], LedgerEntry.id < after[1])))
        rows = list(await uow.session.scalars(
            stmt.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(page.limit + 1)))
    return make_page(rows, page.limit, lambda e: [e.created_at.isoformat(), str(e.id)])


async def entries_csv(uow: UnitOfWork, actor: Principal, where: EntryFilter) -> AsyncIterator[str]:
    """The same entries as CSV, oldest first, at most `CSV_MAX_ROWS`; checked before the first byte."""
    async with uow.read_only():
        stmt = (await _entries(uow, actor, where)).order_by(LedgerEntry.created_at, LedgerEntry.id)
        rows = list(await uow.session.scalars(stmt.limit(CSV_MAX_ROWS)))
        names = await people.names_of(uow.session, {e.student_id for e in rows})

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(CSV_COLUMNS)
        for start in range(0, len(rows), CSV_BATCH):
            yield "".join(_csv_line(_csv_row(e, names)) for e in rows[start:start + CSV_BATCH])
    return lines()


def _csv_row(e: LedgerEntry, names: dict[uuid.UUID, str]) -> tuple[object, ...]:
    return (e.created_at.isoformat(), e.kind, e.amount, e.currency, e.balance_after, e.student_id,
            names.get(e.student_id, ""), e.teacher_id, e.payment_id or "", e.lesson_id or "", e.reason or "", e.id)


def _csv_line(values: tuple[object, ...]) -> str:
    out = io.StringIO()
    # a cell starting with = + - @ is a formula to a spreadsheet: quote it as text
    csv.writer(out).writerow(["'" + v if isinstance(v, str) and v[:1] in "=+-@" else v for v in values])
    return out.getvalue()


async def _entries(uow: UnitOfWork, actor: Principal, where: EntryFilter) -> Select[tuple[LedgerEntry]]:
    if where.student_id is not None:
        await ensure_may_see_student(uow.session, actor, where.student_id)
    stmt = select(LedgerEntry).where(
        await students_visible(uow.session, actor, LedgerEntry.student_id, LedgerEntry.teacher_id))
    if where.student_id is not None:
        stmt = stmt.where(LedgerEntry.student_id == where.student_id)
    if where.teacher_id is not None:
        stmt = stmt.where(LedgerEntry.teacher_id == where.teacher_id)
    if where.kinds:
        stmt = stmt.where(LedgerEntry.kind.in_(where.kinds))
    if where.since is not None:
        stmt = stmt.where(LedgerEntry.created_at >= _utc(where.since, "from"))
    if where.before is not None:
        stmt = stmt.where(LedgerEntry.created_at < _utc(where.before, "to"))
    return stmt


def _utc(value: datetime, name: str) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise Unprocessable("Time out of range", errors=[{"loc": ["query", name], "msg": "out of range"}]) from exc


async def income(uow: UnitOfWork, teacher_id: uuid.UUID, year: int) -> list[MonthIncome]:
    """Money received, refunded and charged by month of `year` in the teacher's time zone."""
    async with uow.read_only():
        zone = ZoneInfo(valid_zone(await people.timezone_of(uow.session, teacher_id)) or "Europe/Moscow")
        start = datetime(year, 1, 1, tzinfo=zone)
        end = datetime(year + 1, 1, 1, tzinfo=zone) if year < 9999 else datetime.max.replace(tzinfo=UTC)
        rows = await uow.session.execute(
            select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.currency)
            .where(LedgerEntry.teacher_id == teacher_id, LedgerEntry.created_at >= start,
                   LedgerEntry.created_at < end))
        sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for at, kind, amount, currency in rows:
            month = sums[(at.astimezone(zone).strftime("%Y-%m"), currency)]
            if kind in CREDITS:
                month["received"] += amount
            elif kind == EntryKind.REFUND:
                month["refunded"] -= amount
            elif kind in CHARGES:
                month["charged"] -= amount
    return [MonthIncome(month=month, currency=currency, received=s["received"], refunded=s["refunded"],
                        net=s["received"] - s["refunded"], charged=s["charged"])
            for (month, currency), s in sorted(sums.items())]
