"""Histories of the platform as the other services would tell them: every kind of event the
analytics service projects, for teachers and their students, deterministic for a seed."""
from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from shared.events import (
    BalanceUpdated,
    CardReviewed,
    Event,
    HomeworkAssigned,
    HomeworkGraded,
    HomeworkSubmitted,
    LessonCancelled,
    LessonCompleted,
    LessonRescheduled,
    LessonScheduled,
    LessonStarted,
    MaterialStudied,
    NotificationSent,
    Payload,
    PaymentCompleted,
    PaymentRefunded,
    StudentLevelUp,
    TeacherLinked,
    UserCreated,
    XpEarned,
)

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def event(payload: Payload, producer: str, at: datetime) -> Event:
    return Event(type=payload.event_type, producer=producer, occurred_at=at, correlation_id=uuid.uuid4().hex,
                 payload=payload.model_dump(mode="json"))


def teacher_history(rng: random.Random, *, students: int = 5, weeks: int = 8, start: datetime = START,
                    teacher_id: uuid.UUID | None = None) -> Iterator[Event]:
    """A teacher, their students, and `weeks` weeks of lessons, homework, payments, XP, cards and
    materials, in the order they happened (per student; students interleave by week)."""
    teacher = teacher_id or uuid.UUID(int=rng.getrandbits(128))
    yield event(UserCreated(user_id=teacher, role="teacher", full_name=f"Учитель {str(teacher)[:4]}",
                            email=f"{teacher}@example.org"), "user", start)
    kids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(students)]
    for i, kid in enumerate(kids):
        yield event(UserCreated(user_id=kid, role="student", full_name=f"Ученик {i} {str(kid)[:4]}",
                                email=f"{kid}@example.org"), "user", start)
        yield event(TeacherLinked(teacher_id=teacher, student_id=kid), "user", start + timedelta(minutes=1))
    xp = dict.fromkeys(kids, 0)
    balance = dict.fromkeys(kids, 0)
    for week in range(weeks):
        for kid in kids:
            yield from _week(rng, teacher, kid, start + timedelta(weeks=week, hours=kids.index(kid)), xp, balance)


def _week(rng: random.Random, teacher: uuid.UUID, kid: uuid.UUID, at: datetime, xp: dict, balance: dict
          ) -> Iterator[Event]:
    lesson = uuid.UUID(int=rng.getrandbits(128))
    starts = at + timedelta(days=2)
    yield event(LessonScheduled(lesson_id=lesson, teacher_id=teacher, student_id=kid, subject="maths",
                                starts_at=starts, duration_minutes=60, price=150_000), "lesson", at)
    if rng.random() < 0.2:
        old, starts = starts, starts + timedelta(hours=3)
        yield event(LessonRescheduled(lesson_id=lesson, teacher_id=teacher, student_id=kid, old_starts_at=old,
                                      starts_at=starts, duration_minutes=60), "lesson", at + timedelta(hours=1))
    if rng.random() < 0.15:
        who = rng.choice([teacher, kid])
        yield event(LessonCancelled(lesson_id=lesson, teacher_id=teacher, student_id=kid, cancelled_by=who,
                                    reason="ill", starts_at=starts), "lesson", starts - timedelta(hours=5))
        return
    attended = rng.random() < 0.9
    yield event(LessonStarted(lesson_id=lesson, teacher_id=teacher, student_id=kid), "lesson", starts)
    yield event(LessonCompleted(lesson_id=lesson, teacher_id=teacher, student_id=kid, subject="maths",
                                starts_at=starts, duration_minutes=60, score=rng.randint(40, 100),
                                attended=attended, price=150_000), "lesson", starts + timedelta(hours=1))
    balance[kid] -= 150_000
    yield event(BalanceUpdated(student_id=kid, balance=balance[kid], reason="lesson",
                               transaction_id=uuid.UUID(int=rng.getrandbits(128))), "payment",
                starts + timedelta(hours=1, seconds=1))
    if attended:
        gained = rng.randint(100, 250)
        xp[kid] += gained
        yield event(XpEarned(student_id=kid, amount=gained, source="lesson", total_xp=xp[kid]), "student",
                    starts + timedelta(hours=1, seconds=2))
        if xp[kid] // 1000 > (xp[kid] - gained) // 1000:
            yield event(StudentLevelUp(student_id=kid, old_level=xp[kid] // 1000, new_level=xp[kid] // 1000 + 1,
                                       xp=xp[kid]), "student", starts + timedelta(hours=1, seconds=3))
    yield from _homework(rng, teacher, kid, starts + timedelta(hours=2))
    yield from _payment(rng, kid, starts + timedelta(days=1), balance)
    yield from _study(rng, kid, starts + timedelta(days=2))


def _homework(rng: random.Random, teacher: uuid.UUID, kid: uuid.UUID, at: datetime) -> Iterator[Event]:
    homework, due = uuid.UUID(int=rng.getrandbits(128)), at + timedelta(days=3)
    yield event(HomeworkAssigned(homework_id=homework, teacher_id=teacher, student_id=kid, title="Дроби",
                                 due_at=due), "homework", at)
    if rng.random() < 0.1:
        return
    submitted = due + timedelta(hours=rng.choice([-30, -2, 5]))
    yield event(HomeworkSubmitted(homework_id=homework, student_id=kid, teacher_id=teacher, submitted_at=submitted,
                                  due_at=due, on_time=submitted <= due), "homework", submitted)
    yield event(HomeworkGraded(homework_id=homework, student_id=kid, teacher_id=teacher, score=rng.randint(3, 10),
                               max_score=10), "homework", submitted + timedelta(hours=6))


def _payment(rng: random.Random, kid: uuid.UUID, at: datetime, balance: dict) -> Iterator[Event]:
    if rng.random() < 0.6:
        return
    payment, amount = uuid.UUID(int=rng.getrandbits(128)), rng.choice([150_000, 300_000, 600_000])
    balance[kid] += amount
    yield event(PaymentCompleted(payment_id=payment, student_id=kid, payer_id=kid, amount=amount, provider="fake"),
                "payment", at)
    yield event(BalanceUpdated(student_id=kid, balance=balance[kid], reason="payment", transaction_id=payment),
                "payment", at + timedelta(seconds=1))
    if rng.random() < 0.1:
        balance[kid] -= amount // 2
        yield event(PaymentRefunded(payment_id=payment, student_id=kid, amount=amount // 2), "payment",
                    at + timedelta(hours=2))


def _study(rng: random.Random, kid: uuid.UUID, at: datetime) -> Iterator[Event]:
    deck = uuid.UUID(int=rng.getrandbits(128))
    for i in range(rng.randint(0, 4)):
        yield event(CardReviewed(card_id=uuid.UUID(int=rng.getrandbits(128)), deck_id=deck, student_id=kid,
                                 rating="good", reviewed_at=at + timedelta(minutes=i), learned=rng.random() < 0.5),
                    "dictionary", at + timedelta(minutes=i))
    if rng.random() < 0.3:
        yield event(MaterialStudied(material_id=uuid.UUID(int=rng.getrandbits(128)), student_id=kid, subject="maths"),
                    "material", at + timedelta(hours=1))
    yield event(NotificationSent(notification_id=uuid.UUID(int=rng.getrandbits(128)), user_id=kid,
                                 channel="telegram", kind="reminder"), "notification", at + timedelta(hours=2))
