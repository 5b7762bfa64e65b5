"""The whole platform, embedded, as a client sees it through the gateway."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from shared.settings import Settings
from tests.support import running


@dataclass
class Account:
    id: str
    email: str
    role: str
    headers: dict[str, str]
    refresh_token: str


async def register_and_login(client: httpx.AsyncClient, role: str, *, full_name: str | None = None,
                             timezone: str = "Europe/Moscow") -> Account:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    password = "correct horse battery staple"
    response = await client.post("/auth/register", json={
        "email": email, "password": password, "full_name": full_name or f"{role.title()} Test",
        "role": role, "timezone": timezone})
    assert response.status_code == 201, response.text
    tokens = (await client.post("/auth/login", json={"email": email, "password": password})).json()
    return Account(response.json()["id"], email, role,
                   {"Authorization": f"Bearer {tokens['access_token']}"}, tokens["refresh_token"])


async def link(client: httpx.AsyncClient, teacher: Account, student: Account) -> None:
    invite = await client.post("/api/v1/teachers/me/invites", headers=teacher.headers)
    assert invite.status_code in (200, 201), invite.text
    accepted = await client.post(f"/api/v1/invites/{invite.json()['code']}/accept", headers=student.headers)
    assert accepted.status_code in (200, 201), accepted.text


@pytest.fixture
async def embedded(tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the embedded platform (gateway + nine services in this process)."""
    from repitbot.embedded import create_embedded_app

    app = create_embedded_app(Settings(var_dir=tmp_path, log_json=True), seed=False)
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def settle(client: httpx.AsyncClient) -> None:
    """Wait until every outbox of the embedded platform is published and its bus is drained,
    including the events that handlers emit in turn."""
    app = client.app  # type: ignore[attr-defined]
    while True:
        published = 0
        for service in app.state.service_apps.values():
            while n := await service.state.relay.relay_once():
                published += n
        await app.state.runtime.bus.drain()
        if not published:
            return
