"""The teacher overview's numbers from read-model rows written directly, on PostgreSQL and SQLite
(the service's migrations applied): the income of both kinds of payment and of no other, months
and weeks in the teacher's zone, debtors, homework on time, students at risk."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.analytics import service
from services.analytics.app import SPEC
from services.analytics.models import Activity, Balance, HomeworkFact, KnownUser, LessonFact, MoneyEntry, TeacherLink
from services.analytics.settings import AnalyticsSettings
from shared.auth import Principal
from shared.db import UnitOfWork, make_engine
from shared.errors import Unprocessable
from shared.migrations import alembic_config, upgrade

T, OTHER_T = uuid.uuid4(), uuid.uuid4()
ANN, BOB, CAROL = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()     # Carol is the other teacher's student
START = datetime(2026, 2, 15, 21, tzinfo=UTC)                    # Monday 16 February, 00:00 in Moscow
END = START + timedelta(weeks=4)


def at(day: int, hour: int, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def lesson(teacher, student, starts_at, minutes, status="completed") -> LessonFact:
    return LessonFact(lesson_id=uuid.uuid4(), teacher_id=teacher, student_id=student, starts_at=starts_at,
                      duration_minutes=minutes, status=status)


def money(student, teacher, amount, when, currency="RUB") -> MoneyEntry:
    return MoneyEntry(event_id=uuid.uuid4(), kind="payment" if amount > 0 else "refund", payment_id=uuid.uuid4(),
                      student_id=student, teacher_id=teacher, amount=amount, currency=currency, at=when)


def graded(student, score, when, *, due=None, submitted=None, on_time=None) -> HomeworkFact:
    return HomeworkFact(homework_id=uuid.uuid4(), teacher_id=T, student_id=student, due_at=due,
                        submitted_at=submitted, on_time=on_time, score=score, max_score=100, graded_at=when)


def rows() -> list:
    linked = at(1, 0)
    return [
        KnownUser(id=T, role="teacher", timezone="Europe/Moscow", locale="ru"),
        KnownUser(id=ANN, role="student", full_name="Анна"), KnownUser(id=BOB, role="student"),
        TeacherLink(teacher_id=T, student_id=ANN, linked_at=linked),
        TeacherLink(teacher_id=T, student_id=BOB, linked_at=linked + timedelta(hours=1)),
        TeacherLink(teacher_id=OTHER_T, student_id=CAROL, linked_at=linked),
        TeacherLink(teacher_id=OTHER_T, student_id=ANN, linked_at=linked),
        lesson(T, ANN, at(16, 23), 20),                    # Tuesday 17 February in Moscow
        lesson(T, ANN, at(28, 22), 40),                    # Sunday 1 March in Moscow: week of 23 February
        lesson(T, BOB, at(3, 9, 3), 60, "cancelled"),
        lesson(T, BOB, at(4, 9, 3), 60, "scheduled"),
        lesson(OTHER_T, ANN, at(20, 9), 60), lesson(T, ANN, START - timedelta(hours=1), 60),
        money(CAROL, T, 1000, at(20, 9)),                  # names the teacher: counted
        money(ANN, None, 500, at(5, 9, 3)),                # names no teacher, paid by a student: counted
        money(BOB, None, -200, at(6, 9, 3)),               # a refund of the same kind
        money(ANN, T, 50, at(28, 21), "USD"),              # 1 March in Moscow
        money(CAROL, None, 700, at(20, 9)),                # another teacher's student: not counted
        money(ANN, OTHER_T, 300, at(20, 9)),               # names another teacher: not counted
        money(ANN, T, 900, END),                           # after the range
        Balance(student_id=ANN, balance=-500, currency="RUB", at=at(1, 0)),
        Balance(student_id=BOB, balance=100, currency="RUB", at=at(1, 0)),
        Balance(student_id=CAROL, balance=-900, currency="RUB", at=at(1, 0)),
        graded(ANN, 80, at(17, 9), due=at(18, 9), submitted=at(17, 8), on_time=True),
        graded(ANN, None, None, due=at(19, 9), submitted=at(20, 8), on_time=False),
        graded(ANN, None, None, due=at(21, 9)),
        *[graded(BOB, score, at(1 + n, 9)) for n, score in enumerate((90, 90, 90, 50, 50, 50))],
        Activity(event_id=uuid.uuid4(), student_id=ANN, at=END - timedelta(days=1), kind="lesson"),
    ]


@pytest.fixture(params=["postgresql", "sqlite"])
async def sessions(request, tmp_path):
    url = (request.getfixturevalue("fresh_database")("overview_") if request.param == "postgresql"
           else f"sqlite+aiosqlite:///{tmp_path}/overview.db")
    engine = make_engine(url)
    await upgrade(engine, alembic_config("analytics", SPEC.versions_dir, SPEC.metadata))
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with factory() as session, session.begin():
        session.add_all(rows())
    yield factory
    await engine.dispose()


async def test_the_overview_counts_the_teachers_money_lessons_debts_homework_and_risks(sessions):
    settings = AnalyticsSettings(mode="mesh", environment="test")
    teacher = Principal(id=T, role="teacher", jti="test", expires_at=0)
    found = await service.overview_for(UnitOfWork(sessions, producer="analytics"), teacher, START, END, None,
                                       settings, now=END)

    assert found.timezone == "Europe/Moscow"
    assert [(m.month.isoformat(), m.lessons, m.hours, m.income) for m in found.months] == [
        ("2026-02-01", 1, 0.33, {"RUB": 1000}), ("2026-03-01", 1, 0.67, {"RUB": 300, "USD": 50})]
    assert [(w.week.isoformat(), w.lessons, w.hours, w.cancelled) for w in found.weeks] == [
        ("2026-02-16", 1, 0.33, 0), ("2026-02-23", 1, 0.67, 0), ("2026-03-02", 0, 0.0, 1), ("2026-03-09", 0, 0.0, 0)]
    assert found.totals.model_dump() == {"lessons": 2, "hours": 1.0, "cancelled": 1,
                                         "income": {"RUB": 1300, "USD": 50}}
    assert [(d.student_id, d.name, d.balance) for d in found.debtors] == [(ANN, "Анна", -500)]
    assert found.debts == {"RUB": 500}
    assert (found.homework_submitted, found.homework_on_time, found.homework_on_time_rate) == (2, 1, 0.5)
    assert (found.students, found.active_students) == (2, 1)
    assert [(r.student_id, r.name, r.inactive, r.falling_scores) for r in found.at_risk] == [(BOB, None, True, True)]

    with pytest.raises(Unprocessable):
        await service.overview_for(UnitOfWork(sessions, producer="analytics"), teacher, END, START, None, settings)
