"""The user service in-process on the suite's real PostgreSQL, RabbitMQ and Redis."""
from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from services.user.app import create_app
from services.user.settings import UserSettings
from shared.events import Event
from shared.outbox import OutboxMessage
from tests.support import Tap, eventually, mesh_runtime, running, tapped

PASSWORD = "correct horse battery staple"
BOT_TOKEN = "bot-token-for-tests"


@dataclass
class Account:
    id: str
    email: str
    role: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class UserService:
    client: httpx.AsyncClient
    app: FastAPI
    settings: UserSettings
    ip: str = field(default_factory=lambda: "10." + ".".join(str(random.randint(1, 254)) for _ in range(3)))

    async def register(self, role: str = "student", *, email: str | None = None, **fields: Any) -> httpx.Response:
        body = {"email": email or f"{role}-{uuid.uuid4().hex[:10]}@example.org", "password": PASSWORD,
                "full_name": f"{role.title()} Tester", "role": role, **fields}
        return await self.client.post("/auth/register", json=body)

    async def login(self, email: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post("/auth/login", json={"email": email, "password": password},
                                      headers={"X-Forwarded-For": self.ip})

    async def account(self, role: str = "student", **fields: Any) -> Account:
        registered = await self.register(role, **fields)
        assert registered.status_code == 201, registered.text
        tokens = await self.login(registered.json()["email"])
        assert tokens.status_code == 200, tokens.text
        return Account(registered.json()["id"], registered.json()["email"], role,
                       tokens.json()["access_token"], tokens.json()["refresh_token"])

    async def count(self, model: Any, *where: Any) -> int:
        async with self.app.state.session_factory() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*where))

    async def settle(self) -> None:
        """Wait until the relay has published every outbox row.

        Stopping the app while the relay is being woken by a commit can lose the cancellation
        on Python 3.11 (`asyncio.wait_for` in the relay), so tests stop it when it is idle."""
        await eventually(lambda: self._all_published(), timeout=10)

    async def _all_published(self) -> bool:
        return await self.count(OutboxMessage, OutboxMessage.published_at.is_(None)) == 0

    async def outbox(self, event_type: str) -> list[Event]:
        async with self.app.state.session_factory() as session:
            rows = (await session.scalars(select(OutboxMessage).where(OutboxMessage.type == event_type))).all()
        return [Event.model_validate(row.body) for row in rows]


@pytest.fixture
def start_user_service(servers, fresh_database, tmp_path) -> Callable[..., contextlib.AbstractAsyncContextManager]:
    """`async with start_user_service(**settings) as service:` one instance on a new database
    (or on `database_url`, to run a second instance of the same service)."""

    @contextlib.asynccontextmanager
    async def start(database_url: str | None = None, **overrides: Any) -> AsyncIterator[UserService]:
        settings = UserSettings(mode="mesh", environment="test", database_url=database_url or fresh_database("user_"),
                                redis_url=servers.redis_url, rabbitmq_url=servers.rabbitmq_url,
                                bot_token=BOT_TOKEN, var_dir=tmp_path, storage_dir=tmp_path / "files",
                                public_base_url="https://api.repitbot.test", bot_username="RepitTestBot",
                                **{"trusted_proxies": ["127.0.0.1"], **overrides})  # the test client is the gateway
        runtime = mesh_runtime(servers)
        app = create_app(settings, runtime)
        try:
            async with running(app, base_url="http://user:8001") as client:
                started = UserService(client, app, settings)
                yield started
                await started.settle()
        finally:
            await runtime.close()

    return start


@pytest.fixture
async def service(start_user_service) -> AsyncIterator[UserService]:
    async with start_user_service() as started:
        yield started


@pytest.fixture
async def tap(servers) -> AsyncIterator[Tap]:
    async with tapped(servers.rabbitmq_url, "user.#") as tap:
        yield tap
