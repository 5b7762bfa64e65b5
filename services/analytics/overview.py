"""A teacher's overview: lessons, hours and income by week and month, what their students owe,
homework on time, active students and students at risk. Six indexed queries in the caller's
transaction, read as Core rows and counted into weeks in the teacher's zone here (`domain`)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics import domain
from services.analytics.models import Activity, Balance, HomeworkFact, LessonFact, MoneyEntry
from services.analytics.people import people
from services.analytics.schemas import AtRisk, Debtor, OverviewMonth, OverviewPublic, OverviewTotals, OverviewWeek


async def teacher_overview(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime,
                           tz: ZoneInfo, now: datetime) -> OverviewPublic:
    students, names, last_seen = await _students(session, teacher_id)
    weeks = {week: [0, 0, 0] for week in domain.weeks_between(start, end, tz)}     # lessons, minutes, cancelled
    months = {month: [0, 0] for month in domain.months_between(start, end, tz)}    # lessons, minutes
    await _lessons(session, teacher_id, start, end, tz, weeks, months)
    income = await _income(session, teacher_id, start, end, tz, months)
    debtors = await _debtors(session, teacher_id, names)
    submitted, on_time = await _homework(session, teacher_id, start, end)
    scores = await _recent_scores(session, teacher_id)
    risks = {student: domain.risk_of(last_seen.get(student), scores.get(student, []), now) for student in students}
    debts: dict[str, int] = defaultdict(int)
    for debtor in debtors:
        debts[debtor.currency] += -debtor.balance
    return OverviewPublic(
        teacher_id=teacher_id, from_=start, to=end, timezone=str(tz.key),
        weeks=[OverviewWeek(week=week, lessons=n, hours=_hours(minutes), cancelled=cancelled)
               for week, (n, minutes, cancelled) in weeks.items()],
        months=[OverviewMonth(month=month, lessons=n, hours=_hours(minutes), income=income.get(month, {}))
                for month, (n, minutes) in months.items()],
        totals=_totals(weeks, income), debts=dict(debts), debtors=debtors,
        homework_submitted=submitted, homework_on_time=on_time,
        homework_on_time_rate=domain.rate(on_time, submitted), students=len(students),
        active_students=sum(1 for risk in risks.values() if not risk.inactive),
        at_risk=[AtRisk(student_id=student, name=names.get(student), last_activity_at=last_seen.get(student),
                        inactive=risk.inactive, falling_scores=risk.falling_scores)
                 for student, risk in risks.items() if risk.at_risk])


def _hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def _totals(weeks: dict, income: dict) -> OverviewTotals:
    total_income: dict[str, int] = defaultdict(int)
    for amounts in income.values():
        for currency, amount in amounts.items():
            total_income[currency] += amount
    return OverviewTotals(lessons=sum(w[0] for w in weeks.values()), hours=_hours(sum(w[1] for w in weeks.values())),
                          cancelled=sum(w[2] for w in weeks.values()), income=dict(total_income))


def paid_to(teacher_id: uuid.UUID, students: list[uuid.UUID]):
    """Money of the teacher: named so by the payment, or paid by one of their students unnamed."""
    unnamed = and_(MoneyEntry.teacher_id.is_(None), MoneyEntry.student_id.in_(students)) if students else None
    return or_(MoneyEntry.teacher_id == teacher_id, unnamed) if unnamed is not None else (
        MoneyEntry.teacher_id == teacher_id)


def _students_of(teacher_id: uuid.UUID) -> Select:
    links = people.teacher_links
    return select(links.student_id).where(links.teacher_id == teacher_id)


async def _students(session: AsyncSession, teacher_id: uuid.UUID) -> tuple[list[uuid.UUID], dict, dict]:
    """The teacher's students (oldest link first), their names and their last activity, in one
    statement: the last activity is one probe of `ix_activity_student_at` per student (max() of a
    correlated subquery), where GROUP BY would read every activity row of every student."""
    links, users = people.teacher_links, people.users
    latest = select(func.max(Activity.at)).where(Activity.student_id == links.student_id).scalar_subquery()
    rows = (await session.execute(
        select(links.student_id, users.full_name, latest).outerjoin(users, users.id == links.student_id)
        .where(links.teacher_id == teacher_id).order_by(links.linked_at, links.student_id))).all()
    names = {student: name for student, name, _ in rows if name is not None}
    return [row[0] for row in rows], names, {student: at for student, _, at in rows if at is not None}


async def _lessons(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime, tz: ZoneInfo,
                   weeks: dict[object, list[int]], months: dict[object, list[int]]) -> None:
    rows = await session.execute(select(LessonFact.starts_at, LessonFact.status, LessonFact.duration_minutes).where(
        LessonFact.teacher_id == teacher_id, LessonFact.starts_at >= start, LessonFact.starts_at < end,
        LessonFact.status.in_(("completed", "cancelled"))))
    for starts_at, status, minutes in rows:
        local = starts_at.astimezone(tz).date()
        week = weeks[domain.monday_of(local)]
        if status == "cancelled":
            week[2] += 1
            continue
        month = months[local.replace(day=1)]
        week[0] += 1
        month[0] += 1
        week[1] += minutes or 0
        month[1] += minutes or 0


async def _income(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime, tz: ZoneInfo,
                  months: dict) -> dict[object, dict[str, int]]:
    """Money of the teacher by month and currency: named so by the payment, or paid by one of
    their students unnamed. Two branches, so that each reads its own index (`ix_money_teacher_at`,
    `ix_money_student_at`) rather than every unnamed payment of the range."""
    columns = (MoneyEntry.at, MoneyEntry.amount, MoneyEntry.currency)
    in_range = (MoneyEntry.at >= start, MoneyEntry.at < end)
    named = select(*columns).where(MoneyEntry.teacher_id == teacher_id, *in_range)
    unnamed = select(*columns).where(MoneyEntry.teacher_id.is_(None),
                                     MoneyEntry.student_id.in_(_students_of(teacher_id)), *in_range)
    income: dict[object, dict[str, int]] = {}
    for at, amount, currency in await session.execute(union_all(named, unnamed)):
        month = income.setdefault(domain.month_of(at, tz), {})
        month[currency] = month.get(currency, 0) + amount
    return income


async def _debtors(session: AsyncSession, teacher_id: uuid.UUID, names: dict) -> list[Debtor]:
    rows = await session.execute(select(Balance.student_id, Balance.balance, Balance.currency).where(
        Balance.student_id.in_(_students_of(teacher_id)), Balance.balance < 0).order_by(Balance.balance))
    return [Debtor(student_id=student, name=names.get(student), balance=balance, currency=currency)
            for student, balance, currency in rows]


async def _homework(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime) -> tuple[int, int]:
    row = (await session.execute(select(
        func.count(HomeworkFact.submitted_at),
        func.count(HomeworkFact.homework_id).filter(HomeworkFact.on_time.is_(True))).where(
        HomeworkFact.teacher_id == teacher_id, HomeworkFact.due_at >= start, HomeworkFact.due_at < end))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def _recent_scores(session: AsyncSession, teacher_id: uuid.UUID) -> dict[uuid.UUID, list[float]]:
    """Each student's last graded homework scores (%), oldest first, as many as `domain.falling`
    reads (by `ix_homework_facts_student_graded`)."""
    ranked = select(HomeworkFact.student_id, HomeworkFact.score, HomeworkFact.max_score, HomeworkFact.graded_at,
                    func.row_number().over(partition_by=HomeworkFact.student_id,
                                           order_by=HomeworkFact.graded_at.desc()).label("n")).where(
        HomeworkFact.student_id.in_(_students_of(teacher_id)), HomeworkFact.score.is_not(None)).subquery()
    rows = await session.execute(select(ranked.c.student_id, ranked.c.score, ranked.c.max_score)
                                 .where(ranked.c.n <= 2 * domain.FALLING_WINDOW)
                                 .order_by(ranked.c.student_id, ranked.c.graded_at))
    scores: dict[uuid.UUID, list[float]] = defaultdict(list)
    for student, score, max_score in rows:
        scores[student].append(domain.percent(score, max_score) or 0.0)
    return scores
