"""Helpers of the lesson service's integration tests (the fixtures are in conftest.py)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from services.lesson.models import KnownUser, TeacherLink
from services.user import links
from services.user.models import User
from shared.events import Payload, TeacherLinked, UserCreated, make_event
from shared.rabbit import RabbitBus
from tests.support import Person, TestKeys, eventually


@dataclass
class LessonWorld:
    client: httpx.AsyncClient
    app: FastAPI
    keys: TestKeys
    user_service: RabbitBus

    def person(self, role: str) -> Person:
        user_id = uuid.uuid4()
        return Person(user_id, role, self.keys.headers(user_id, role))

    async def tell(self, *payloads: Payload) -> None:
        """Publish events as the user service would."""
        await self.user_service.publish([make_event(p, producer="user") for p in payloads])

    async def teacher_and_student(self, *, timezone_name: str = "Europe/Moscow") -> tuple[Person, Person]:
        teacher, student = self.person("teacher"), self.person("student")
        await self.tell(UserCreated(user_id=teacher.id, role="teacher", full_name="Anna Teacher",
                                    email=f"{teacher.id}@example.org", timezone=timezone_name),
                        UserCreated(user_id=student.id, role="student", full_name="Sasha Student",
                                    email=f"{student.id}@example.org"),
                        TeacherLinked(teacher_id=teacher.id, student_id=student.id))
        await self.wait_for(TeacherLink, teacher_id=teacher.id, student_id=student.id)
        await self.wait_for(KnownUser, id=teacher.id, timezone=timezone_name)
        return teacher, student

    async def wait_for(self, model: type, **where: Any) -> Any:
        async def found() -> Any:
            async with self.app.state.session_factory() as session:
                return await session.scalar(select(model).filter_by(**where))
        return await eventually(found)

    async def book(self, teacher: Person, student: Person, starts_at: datetime, minutes: int = 60,
                   **extra: Any) -> httpx.Response:
        body = {"student_id": str(student.id), "subject": "Maths", "title": "Fractions",
                "starts_at": starts_at.isoformat(), "duration_minutes": minutes, **extra}
        return await self.client.post("/api/v1/lessons", json=body, headers=teacher.headers)


@dataclass
class Users:
    """The user service (the source of truth of links), used through its own use cases."""

    app: FastAPI

    async def account(self, world: LessonWorld, role: str) -> Person:
        person = world.person(role)
        async with self.app.state.session_factory() as session:
            session.add(User(id=person.id, email=f"{person.id}@example.org", password_hash="-",
                             full_name=f"{role.title()} Tester", role=role))
            await session.commit()
        return person

    async def link(self, teacher: Person, student: Person) -> None:
        await links.link_teacher(self.app.state.uow_factory(), teacher.id, student.id)


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(UTC) + timedelta(days=1)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0)
