"""A teacher's overview: lessons, hours and income by week and month, what their students owe,
homework on time, active students and students at risk. Six indexed queries in the caller's
transaction, read as Core rows and counted into weeks in the teacher's zone here (`domain`)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, or_, select, union_all
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
    income = await _income(session, teacher_id, start, end, tz)
    debtors = await _debtors(session, teacher_id, names)
    submitted, on_time = await _homework_on_time(session, teacher_id, start, end)
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


# The statements, built once: each call binds its values (`TEACHER`, `START`, `END`) to the same
# compiled statement, where building it anew costs more CPU than PostgreSQL spends answering it.
# Core columns (`__table__.c`): the rows are plain tuples.
TEACHER, START, END = bindparam("teacher_id"), bindparam("start"), bindparam("end")
_links, _users = people.teacher_links.__table__.c, people.users.__table__.c
_lesson, _money, _balance = LessonFact.__table__.c, MoneyEntry.__table__.c, Balance.__table__.c
_homework, _activity = HomeworkFact.__table__.c, Activity.__table__.c
_STUDENTS_OF = select(_links.student_id).where(_links.teacher_id == TEACHER)

# the students (oldest link first), their names and their last activity: one probe of
# `ix_activity_student_at` per student (max() of a correlated subquery), where GROUP BY would
# read every activity row of every student
STUDENTS = (select(_links.student_id, _users.full_name,
                   select(func.max(_activity.at)).where(_activity.student_id == _links.student_id).scalar_subquery())
            .select_from(people.teacher_links.__table__)
            .outerjoin(people.users.__table__, _users.id == _links.student_id)
            .where(_links.teacher_id == TEACHER).order_by(_links.linked_at, _links.student_id))

LESSONS = select(_lesson.starts_at, _lesson.status, _lesson.duration_minutes).where(
    _lesson.teacher_id == TEACHER, _lesson.starts_at >= START, _lesson.starts_at < END,
    _lesson.status.in_(("completed", "cancelled")))

# money of the teacher: named so by the payment, or paid by one of their students unnamed; two
# branches, so that each reads its own index (`ix_money_teacher_at`, `ix_money_student_at`)
# rather than every unnamed payment of the range
_MONEY_IN_RANGE = (_money.at >= START, _money.at < END)
INCOME = union_all(
    select(_money.at, _money.amount, _money.currency).where(_money.teacher_id == TEACHER, *_MONEY_IN_RANGE),
    select(_money.at, _money.amount, _money.currency).where(
        _money.teacher_id.is_(None), _money.student_id.in_(_STUDENTS_OF), *_MONEY_IN_RANGE))

DEBTORS = select(_balance.student_id, _balance.balance, _balance.currency).where(
    _balance.student_id.in_(_STUDENTS_OF), _balance.balance < 0).order_by(_balance.balance)

HOMEWORK = select(func.count(_homework.submitted_at),
                  func.count(_homework.homework_id).filter(_homework.on_time.is_(True))).where(
    _homework.teacher_id == TEACHER, _homework.due_at >= START, _homework.due_at < END)

# each student's last graded scores, as many as `domain.falling` reads (`ix_homework_facts_student_graded`)
_RANKED = select(_homework.student_id, _homework.score, _homework.max_score, _homework.graded_at,
                 func.row_number().over(partition_by=_homework.student_id,
                                        order_by=_homework.graded_at.desc()).label("n")).where(
    _homework.student_id.in_(_STUDENTS_OF), _homework.score.is_not(None)).subquery()
RECENT_SCORES = (select(_RANKED.c.student_id, _RANKED.c.score, _RANKED.c.max_score)
                 .where(_RANKED.c.n <= 2 * domain.FALLING_WINDOW).order_by(_RANKED.c.student_id, _RANKED.c.graded_at))


async def _students(session: AsyncSession, teacher_id: uuid.UUID) -> tuple[list[uuid.UUID], dict, dict]:
    """The teacher's students, their names and their last activity."""
    rows = (await session.execute(STUDENTS, {"teacher_id": teacher_id})).all()
    names = {student: name for student, name, _ in rows if name is not None}
    return [row[0] for row in rows], names, {student: at for student, _, at in rows if at is not None}


async def _lessons(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime, tz: ZoneInfo,
                   weeks: dict[object, list[int]], months: dict[object, list[int]]) -> None:
    rows = await session.execute(LESSONS, {"teacher_id": teacher_id, "start": start, "end": end})
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


async def _income(session: AsyncSession, teacher_id: uuid.UUID, start: datetime, end: datetime,
                  tz: ZoneInfo) -> dict[object, dict[str, int]]:
    """Money of the teacher by month (in their zone) and currency."""
    income: dict[object, dict[str, int]] = {}
    for at, amount, currency in await session.execute(INCOME, {"teacher_id": teacher_id, "start": start, "end": end}):
        month = income.setdefault(domain.month_of(at, tz), {})
        month[currency] = month.get(currency, 0) + amount
    return income


async def _debtors(session: AsyncSession, teacher_id: uuid.UUID, names: dict) -> list[Debtor]:
    rows = await session.execute(DEBTORS, {"teacher_id": teacher_id})
    return [Debtor(student_id=student, name=names.get(student), balance=balance, currency=currency)
            for student, balance, currency in rows]


async def _homework_on_time(session: AsyncSession, teacher_id: uuid.UUID, start: datetime,
                            end: datetime) -> tuple[int, int]:
    """Homework due in the range: handed in, and handed in on time."""
    row = (await session.execute(HOMEWORK, {"teacher_id": teacher_id, "start": start, "end": end})).one()
    return int(row[0] or 0), int(row[1] or 0)


async def _recent_scores(session: AsyncSession, teacher_id: uuid.UUID) -> dict[uuid.UUID, list[float]]:
    """Each student's last graded homework scores (%), oldest first."""
    scores: dict[uuid.UUID, list[float]] = defaultdict(list)
    for student, score, max_score in await session.execute(RECENT_SCORES, {"teacher_id": teacher_id}):
        scores[student].append(domain.percent(score, max_score) or 0.0)
    return scores
