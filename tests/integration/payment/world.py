"""Helpers of the payment service's integration tests (the fixtures are in conftest.py)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.payment.models import Account, KnownUser, LedgerEntry, ParentLink, TeacherLink
from shared.events import (
    Event,
    LessonCompleted,
    ParentLinked,
    Payload,
    TeacherLinked,
    UserCreated,
    make_event,
)
from shared.rabbit import RabbitBus
from tests.support import Person, TestKeys, eventually


@dataclass
class PaymentWorld:
    client: httpx.AsyncClient
    app: FastAPI
    keys: TestKeys
    publisher: RabbitBus
    others: list[httpx.AsyncClient] = field(default_factory=list)   # more instances on the same database

    def person(self, role: str) -> Person:
        user_id = uuid.uuid4()
        return Person(user_id, role, self.keys.headers(user_id, role))

    async def publish(self, *events: Event) -> None:
        await self.publisher.publish(list(events))

    async def tell(self, *payloads: Payload, producer: str = "user") -> list[Event]:
        events = [make_event(p, producer=producer) for p in payloads]
        await self.publish(*events)
        return events

    async def family(self) -> tuple[Person, Person, Person]:
        """A teacher, their student and the student's parent, known to the payment service."""
        teacher, student, parent = self.person("teacher"), self.person("student"), self.person("parent")
        await self.tell(*(UserCreated(user_id=p.id, role=p.role, full_name=f"{p.role.title()} Test",
                                      email=f"{p.id}@example.org", timezone="Europe/Moscow")
                          for p in (teacher, student, parent)),
                        TeacherLinked(teacher_id=teacher.id, student_id=student.id),
                        ParentLinked(parent_id=parent.id, student_id=student.id))
        await self.wait_for(TeacherLink, teacher_id=teacher.id, student_id=student.id)
        await self.wait_for(ParentLink, parent_id=parent.id, student_id=student.id)
        await self.wait_for(KnownUser, id=teacher.id)
        return teacher, student, parent

    async def wait_for(self, model: type, **where: Any) -> Any:
        async def found() -> Any:
            async with self.app.state.session_factory() as session:
                return await session.scalar(select(model).filter_by(**where))
        return await eventually(found, timeout=15)

    async def ledger(self, student_id: uuid.UUID) -> tuple[int, int, int]:
        """(stored balance, sum of the ledger, number of entries) of the student's accounts."""
        async with self.app.state.session_factory() as session:
            stored = await session.scalar(select(func.coalesce(func.sum(Account.balance), 0))
                                          .where(Account.student_id == student_id))
            summed, count = (await session.execute(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0), func.count())
                .where(LedgerEntry.student_id == student_id))).one()
        return int(stored), int(summed), int(count)


def completed(teacher: Person, student: Person, price: int | None, *, lesson_id: uuid.UUID | None = None,
              currency: str = "RUB") -> LessonCompleted:
    return LessonCompleted(lesson_id=lesson_id or uuid.uuid4(), teacher_id=teacher.id, student_id=student.id,
                           subject="Maths", starts_at=datetime.now(UTC) - timedelta(hours=1), duration_minutes=60,
                           price=price, currency=currency)
