"""The teacher dashboard's SQL on the real analytics schema: every panel of the "One teacher" row
and the `teacher` variable run on PostgreSQL, read-only, with `$teacher` and `$__timeFilter`
substituted as Grafana does, and return the expected rows for a seeded teacher (and nothing of
another teacher's)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.analytics.app import SPEC
from services.analytics.models import KnownUser, TeacherLink
from services.analytics.projection import project
from shared.db import make_engine
from shared.events import (
    BalanceUpdated,
    HomeworkGraded,
    HomeworkSubmitted,
    LessonCancelled,
    LessonCompleted,
    PaymentCompleted,
    PaymentRefunded,
    XpEarned,
)
from shared.migrations import alembic_config, upgrade
from tests.integration.analytics.history import event

DASHBOARD = Path(__file__).resolve().parents[3] / "monitoring/grafana/dashboards/teacher.json"
MOSCOW = ZoneInfo("Europe/Moscow")
RANGE = ("2026-03-01T00:00:00Z", "2026-03-31T00:00:00Z")
WEEK_1, WEEK_2 = datetime(2026, 3, 2, tzinfo=MOSCOW), datetime(2026, 3, 9, tzinfo=MOSCOW)


def grafana(sql: str, teacher: uuid.UUID) -> str:
    """What Grafana sends for a single-valued variable (its raw text) and the time-filter macro."""
    sql = sql.replace("$teacher", str(teacher))
    return re.sub(r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m.group(1)} BETWEEN '{RANGE[0]}' AND '{RANGE[1]}'", sql)


def sql_panels() -> dict[str, str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return {panel["title"]: panel["targets"][0]["rawSql"] for panel in dashboard["panels"]
            if panel.get("datasource", {}).get("uid") == "analytics"}


def seed(teacher, a, b, c, other_teacher, d) -> list:
    now = datetime.now(UTC)
    lesson = lambda student, at, minutes, who=teacher: LessonCompleted(  # noqa: E731
        lesson_id=uuid.uuid4(), teacher_id=who, student_id=student, subject="maths", starts_at=at,
        duration_minutes=minutes, price=150_000)
    first_payment = uuid.uuid4()
    events = [
        event(lesson(a, WEEK_1 + timedelta(hours=12), 60), "lesson", WEEK_1),
        event(lesson(b, WEEK_1 + timedelta(days=1, hours=12), 90), "lesson", WEEK_1),
        event(LessonCancelled(lesson_id=uuid.uuid4(), teacher_id=teacher, student_id=c, cancelled_by=c, reason="ill",
                              starts_at=WEEK_1 + timedelta(days=2, hours=12)), "lesson", WEEK_1),
        event(lesson(a, WEEK_2 + timedelta(hours=12), 60), "lesson", WEEK_2),
        event(lesson(d, WEEK_2 + timedelta(hours=12), 60, other_teacher), "lesson", WEEK_2),
        event(PaymentCompleted(payment_id=first_payment, student_id=a, payer_id=a, amount=300_000, provider="fake"),
              "payment", WEEK_1 + timedelta(days=3)),
        event(PaymentCompleted(payment_id=uuid.uuid4(), student_id=b, payer_id=b, amount=150_000, provider="fake",
                               teacher_id=str(teacher)), "payment", WEEK_2 + timedelta(days=1)),
        event(PaymentRefunded(payment_id=first_payment, student_id=a, amount=100_000), "payment",
              WEEK_2 + timedelta(days=2)),
        event(PaymentCompleted(payment_id=uuid.uuid4(), student_id=d, payer_id=d, amount=500_000, provider="fake"),
              "payment", WEEK_2),
    ]
    for student, balance in ((a, -150_000), (b, 0), (c, -50_000), (d, -999)):
        events.append(event(BalanceUpdated(student_id=student, balance=balance, reason="lesson",
                                           transaction_id=uuid.uuid4()), "payment", WEEK_2))
    for i, (due, submitted) in enumerate([(WEEK_1 + timedelta(days=3), WEEK_1 + timedelta(days=2)),
                                          (WEEK_1 + timedelta(days=4), WEEK_1 + timedelta(days=5)),
                                          (WEEK_2 + timedelta(days=3), WEEK_2 + timedelta(days=1))]):
        events.append(event(HomeworkSubmitted(homework_id=uuid.uuid4(), student_id=(a, b, c)[i], teacher_id=teacher,
                                              submitted_at=submitted, due_at=due, on_time=submitted <= due),
                            "homework", submitted))
    for i, score in enumerate([10, 10, 10, 5, 5, 5]):     # a's scores fall by half
        events.append(event(HomeworkGraded(homework_id=uuid.uuid4(), student_id=a, teacher_id=teacher, score=score,
                                           max_score=10), "homework", now - timedelta(days=30 - i)))
    events.append(event(XpEarned(student_id=a, amount=50, source="lesson", total_xp=50), "student",
                        now - timedelta(days=1)))
    events.append(event(XpEarned(student_id=b, amount=50, source="lesson", total_xp=50), "student",
                        now - timedelta(days=20)))
    return events


async def test_each_teacher_panel_returns_the_expected_rows_for_a_seeded_teacher(fresh_database):
    engine = make_engine(fresh_database("analytics_grafana_"), pool_size=2)
    try:
        await upgrade(engine, alembic_config("analytics", SPEC.versions_dir, SPEC.metadata))
        teacher, a, b, c, other, d = (uuid.uuid4() for _ in range(6))
        names = {teacher: "Анна Петровна", a: "Мария", b: "Пётр", c: "Ольга", other: "Другой", d: "Дима"}
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session, session.begin():
            await session.execute(insert(KnownUser), [{"id": k, "full_name": v, "timezone": "Europe/Moscow",
                                                       "role": "teacher" if k in (teacher, other) else "student"}
                                                      for k, v in names.items()])
            await session.execute(insert(TeacherLink), [{"teacher_id": teacher, "student_id": s} for s in (a, b, c)]
                                  + [{"teacher_id": other, "student_id": d}])
            await project(session, seed(teacher, a, b, c, other, d))
        rows = {}
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SET TRANSACTION READ ONLY")   # what grafana_reader may do
            for title, sql in sql_panels().items():
                rows[title] = [tuple(row) for row in (await connection.exec_driver_sql(grafana(sql, teacher))).all()]
            variable = json.loads(DASHBOARD.read_text())["templating"]["list"][-1]
            choices = (await connection.exec_driver_sql(variable["query"])).all()
    finally:
        await engine.dispose()

    assert sorted(choices) == [("Анна Петровна", str(teacher)), ("Другой", str(other))]
    week_1, week_2 = WEEK_1.astimezone(UTC), WEEK_2.astimezone(UTC)
    assert rows["Lessons and hours per week"] == [(week_1, 2, Decimal("2.50"), 1), (week_2, 1, Decimal("1.00"), 0)]
    assert rows["Income per week"] == [(week_1, "RUB", Decimal("3000")), (week_2, "RUB", Decimal("500"))]
    assert [row[:3] for row in rows["Debts now"]] == [("Мария", Decimal("1500"), "RUB"), ("Ольга", Decimal("500"), "RUB")]
    assert [(row[0], row[2], row[3]) for row in rows["Students at risk"]] == [
        ("Ольга", True, False), ("Пётр", True, False), ("Мария", False, True)]
    assert rows["Homework handed in on time"] == [(week_1, 2, 1, Decimal("0.500")), (week_2, 1, 1, Decimal("1.000"))]
