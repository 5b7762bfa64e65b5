"""Helpers of the student service's integration tests (the fixtures are in conftest.py)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.student.engine import StudentState
from services.student.models import FactRow, KnownUser, StudentStateRow, TeacherLink, XpEntry
from shared.events import Event, LessonCompleted, Payload, UserCreated, make_event
from shared.rabbit import RabbitBus
from tests.support import Person, TestKeys, eventually

MOSCOW = ZoneInfo("Europe/Moscow")


def moscow(day: int, hour: int = 15) -> datetime:
    """A moment of March 2026 in Moscow: far enough from any night-time rule."""
    return datetime(2026, 3, day, hour, tzinfo=MOSCOW)


def lesson_completed(student_id: uuid.UUID, when: datetime, *, teacher_id: uuid.UUID | None = None,
                     score: int | None = 50, attended: bool = True, lesson_type: str = "regular",
                     subject: str = "maths", starts_at: datetime | None = None) -> Event:
    """The lesson service's event for a lesson completed at `when` (started an hour before, unless
    `starts_at` says otherwise)."""
    payload = LessonCompleted(lesson_id=uuid.uuid4(), teacher_id=teacher_id or uuid.uuid4(), student_id=student_id,
                              subject=subject, lesson_type=lesson_type,
                              starts_at=starts_at or when - timedelta(hours=1),
                              duration_minutes=60, score=score, attended=attended)
    return make_event(payload, producer="lesson", occurred_at=when.astimezone(UTC))


@dataclass
class StudentWorld:
    client: httpx.AsyncClient
    app: FastAPI
    keys: TestKeys
    bus: RabbitBus  # publishes as the other services would

    def person(self, role: str) -> Person:
        user_id = uuid.uuid4()
        return Person(user_id, role, self.keys.headers(user_id, role))

    async def publish(self, *events: Event) -> None:
        await self.bus.publish(list(events))

    async def tell(self, *payloads: Payload, producer: str = "user") -> None:
        await self.publish(*(make_event(p, producer=producer) for p in payloads))

    async def known_student(self, name: str = "Sasha Student", tz: str = "Europe/Moscow") -> Person:
        student = self.person("student")
        await self.tell(UserCreated(user_id=student.id, role="student", full_name=name,
                                    email=f"{student.id}@example.org", timezone=tz))
        await self.wait_for(KnownUser, id=student.id)
        return student

    async def linked_teacher(self, *students: Person) -> Person:
        from shared.events import TeacherLinked
        teacher = self.person("teacher")
        await self.tell(*(TeacherLinked(teacher_id=teacher.id, student_id=s.id) for s in students))
        for student in students:
            await self.wait_for(TeacherLink, teacher_id=teacher.id, student_id=student.id)
        return teacher

    async def wait_for(self, model: type, **where: Any) -> Any:
        async def found() -> Any:
            async with self.app.state.session_factory() as session:
                return await session.scalar(select(model).filter_by(**where))
        return await eventually(found)

    async def facts_of(self, student_id: uuid.UUID) -> int:
        async with self.app.state.session_factory() as session:
            return await session.scalar(select(func.count()).select_from(FactRow)
                                        .where(FactRow.student_id == student_id))

    async def wait_for_facts(self, student_id: uuid.UUID, count: int, timeout: float = 30.0) -> None:
        async def arrived() -> bool:
            return await self.facts_of(student_id) >= count
        await eventually(arrived, timeout=timeout)

    async def state(self, student_id: uuid.UUID) -> StudentState:
        async with self.app.state.session_factory() as session:
            data = await session.scalar(select(StudentStateRow.state).where(StudentStateRow.student_id == student_id))
        return StudentState.from_dict(data)

    async def ledger(self, student_id: uuid.UUID) -> list[XpEntry]:
        async with self.app.state.session_factory() as session:
            return list(await session.scalars(select(XpEntry).where(XpEntry.student_id == student_id)
                                              .order_by(XpEntry.id)))

    async def get(self, path: str, who: Person, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=who.headers, params=params)
