"""Helpers of the material service's integration tests (the fixtures are in conftest.py)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.material.access import people
from services.user import links
from services.user.models import User
from shared.outbox import OutboxMessage
from tests.support import Person, TestKeys


@dataclass
class MaterialWorld:
    client: httpx.AsyncClient
    app: FastAPI
    users: FastAPI            # the real user service, which the material service asks about links
    keys: TestKeys

    async def person(self, role: str) -> Person:
        user_id = uuid.uuid4()
        async with self.users.state.session_factory() as session:
            session.add(User(id=user_id, email=f"{user_id}@example.org", password_hash="-",
                             full_name=f"{role.title()} Tester", role=role))
            await session.commit()
        return Person(user_id, role, self.keys.headers(user_id, role))

    async def link(self, teacher: Person, student: Person, *, heard: bool = True) -> None:
        """Link in the user service; with `heard`, the material service has had the event too."""
        await links.link_teacher(self.users.state.uow_factory(), teacher.id, student.id)
        if heard:
            await self.record(lambda session: people.link_teacher(session, teacher.id, student.id))

    async def link_parent(self, parent: Person, student: Person) -> None:
        await self.record(lambda session: people.link_parent(session, parent.id, student.id))

    async def record(self, write: Any) -> None:
        async with self.app.state.session_factory() as session:
            await write(session)
            await session.commit()

    async def upload(self, who: Person, data: bytes, filename: str = "file.pdf", **fields: Any) -> httpx.Response:
        form = {"title": "Дроби и проценты", "subject": "Maths", "visibility": "students", **fields}
        return await self.client.post("/api/v1/materials", headers=who.headers, data=form,
                                      files={"file": (filename, data, "application/octet-stream")})

    async def settled(self) -> None:
        """Every preview started so far has been made (or given up)."""
        await self.app.state.background.settle()

    async def get(self, who: Person, path: str = "", material_id: Any = None, **kwargs: Any) -> httpx.Response:
        url = f"/api/v1/materials/{material_id}{path}" if material_id else "/api/v1/materials"
        return await self.client.get(url, headers={**who.headers, **kwargs.pop("headers", {})}, **kwargs)

    async def events(self, event_type: str) -> int:
        async with self.app.state.session_factory() as session:
            return await session.scalar(select(func.count()).select_from(OutboxMessage)
                                        .where(OutboxMessage.type == event_type)) or 0

    def blobs(self) -> set[str]:
        """The keys of the files the service has stored (originals and previews)."""
        root = self.app.state.context.storage.root
        return {p.name for p in root.glob("??/??/*") if p.is_file()}
