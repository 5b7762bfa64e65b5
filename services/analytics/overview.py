"""A teacher's overview: lessons, hours and income by week and month, what their students owe,
homework on time, active students and students at risk. A handful of indexed queries, counted
into weeks in the teacher's zone here (`domain`)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics import domain
from services.analytics.models import Activity, Balance, HomeworkFact, LessonFact, MoneyEntry
from services.analytics.people import people
from services.analytics.schemas import AtRisk, Debtor, OverviewMonth, OverviewPublic, OverviewTotals, OverviewWeek


async def teacher_overview(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime,
                           tz: ZoneInfo, now: datetime) -> OverviewPublic:
    students = await people.students_of(session, teacher_id)
    names = await people.names_of(session, students)
    weeks = {week: OverviewWeek(week=week) for week in domain.weeks_between(start, end, tz)}
    months = {month: OverviewMonth(month=month) for month in domain.months_between(start, end, tz)}
    totals = OverviewTotals(lessons=0, hours=0.0, cancelled=0, income={})
    await _lessons(session, teacher_id, start, end, tz, weeks, months, totals)
    await _income(session, teacher_id, students, start, end, tz, months, totals)
    debtors = await _debtors(session, students, names)
    submitted, on_time = await _homework(session, teacher_id, start, end)
    last_seen = await _last_activity(session, students)
    scores = await _recent_scores(session, students)
    risks = {student: domain.risk_of(last_seen.get(student), scores.get(student, []), now) for student in students}
    debts: dict[str, int] = defaultdict(int)
    for debtor in debtors:
        debts[debtor.currency] += -debtor.balance
    return OverviewPublic(
        teacher_id=teacher_id, from_=start, to=end, timezone=str(tz.key), weeks=list(weeks.values()),
        months=list(months.values()), totals=totals, debts=dict(debts), debtors=debtors,
        homework_submitted=submitted, homework_on_time=on_time,
        homework_on_time_rate=domain.rate(on_time, submitted), students=len(students),
        active_students=sum(1 for risk in risks.values() if not risk.inactive),
        at_risk=[AtRisk(student_id=student, name=names.get(student), last_activity_at=last_seen.get(student),
                        inactive=risk.inactive, falling_scores=risk.falling_scores)
                 for student, risk in risks.items() if risk.at_risk])


async def _lessons(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime, tz: ZoneInfo,
                   weeks: dict, months: dict, totals: OverviewTotals) -> None:
    rows = await session.execute(select(LessonFact.starts_at, LessonFact.status, LessonFact.duration_minutes).where(
        LessonFact.teacher_id == teacher_id, LessonFact.starts_at >= start, LessonFact.starts_at < end,
        LessonFact.status.in_(("completed", "cancelled"))))
    for starts_at, status, minutes in rows:
        week, month = weeks[domain.week_of(starts_at, tz)], months[domain.month_of(starts_at, tz)]
        if status == "cancelled":
            week.cancelled += 1
            totals.cancelled += 1
            continue
        hours = (minutes or 0) / 60
        week.lessons += 1
        month.lessons += 1
        totals.lessons += 1
        week.hours = round(week.hours + hours, 2)
        month.hours = round(month.hours + hours, 2)
        totals.hours = round(totals.hours + hours, 2)


def paid_to(teacher_id: uuid.UUID, students: list[uuid.UUID]):
    """Money of the teacher: named so by the payment, or paid by one of their students unnamed."""
    unnamed = and_(MoneyEntry.teacher_id.is_(None), MoneyEntry.student_id.in_(students)) if students else None
    return or_(MoneyEntry.teacher_id == teacher_id, unnamed) if unnamed is not None else (
        MoneyEntry.teacher_id == teacher_id)


async def _income(session: AsyncSession, teacher_id: uuid.UUID, students: list[uuid.UUID], start: datetime,
                  end: datetime, tz: ZoneInfo, months: dict, totals: OverviewTotals) -> None:
    rows = await session.execute(select(MoneyEntry.at, MoneyEntry.amount, MoneyEntry.currency).where(
        paid_to(teacher_id, students), MoneyEntry.at >= start, MoneyEntry.at < end))
    for at, amount, currency in rows:
        month = months[domain.month_of(at, tz)]
        month.income[currency] = month.income.get(currency, 0) + amount
        totals.income[currency] = totals.income.get(currency, 0) + amount


async def _debtors(session: AsyncSession, students: list[uuid.UUID], names: dict) -> list[Debtor]:
    if not students:
        return []
    rows = (await session.execute(select(Balance).where(Balance.student_id.in_(students), Balance.balance < 0)
                                  .order_by(Balance.balance))).scalars().all()
    return [Debtor(student_id=row.student_id, name=names.get(row.student_id), balance=row.balance,
                   currency=row.currency) for row in rows]


async def _homework(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime) -> tuple[int, int]:
    row = (await session.execute(select(
        func.count(HomeworkFact.submitted_at),
        func.count(HomeworkFact.homework_id).filter(HomeworkFact.on_time.is_(True))).where(
        HomeworkFact.teacher_id == teacher_id, HomeworkFact.due_at >= start, HomeworkFact.due_at < end))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def _last_activity(session: AsyncSession, students: list[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    if not students:
        return {}
    # one index probe per student (max() of a correlated subquery reads the last entry of
    # ix_activity_student_at), where GROUP BY would read every row of every student
    latest = (select(func.max(Activity.at)).where(Activity.student_id == people.teacher_links.student_id)
              .scalar_subquery())
    rows = await session.execute(select(people.teacher_links.student_id, latest)
                                 .where(people.teacher_links.student_id.in_(students)).distinct())
    return {student: at for student, at in rows if at is not None}


async def _recent_scores(session: AsyncSession, students: list[uuid.UUID]) -> dict[uuid.UUID, list[float]]:
    """Each student's last graded homework scores (%), oldest first, as many as `domain.falling` reads."""
    if not students:
        return {}
    ranked = select(HomeworkFact.student_id, HomeworkFact.score, HomeworkFact.max_score, HomeworkFact.graded_at,
                    func.row_number().over(partition_by=HomeworkFact.student_id,
                                           order_by=HomeworkFact.graded_at.desc()).label("n")).where(
        HomeworkFact.student_id.in_(students), HomeworkFact.score.is_not(None)).subquery()
    rows = await session.execute(select(ranked).where(ranked.c.n <= 2 * domain.FALLING_WINDOW)
                                 .order_by(ranked.c.student_id, ranked.c.graded_at))
    scores: dict[uuid.UUID, list[float]] = defaultdict(list)
    for row in rows:
        scores[row.student_id].append(domain.percent(row.score, row.max_score) or 0.0)
    return scores
