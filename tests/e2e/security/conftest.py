"""Helpers of the security regression tests: clients from other addresses, admins."""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx

from tests.e2e.conftest import Account

PASSWORD = "correct horse battery staple"


@contextlib.asynccontextmanager
async def client_from(embedded: httpx.AsyncClient, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same embedded platform whose requests come from `address`."""
    transport = httpx.ASGITransport(embedded.app, client=(address, 40000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def admin_account(embedded: httpx.AsyncClient) -> Account:
    """An administrator, made the way an operator makes one (a command, not the API)."""
    from services.user.seed import create_admin
    app = embedded.app  # type: ignore[attr-defined]
    email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
    user_id = await create_admin(app.state.service_apps["user"].state.uow_factory, email=email,
                                 password=PASSWORD, full_name="Admin")
    tokens = (await embedded.post("/auth/login", json={"email": email, "password": PASSWORD})).json()
    return Account(str(user_id), email, "admin", {"Authorization": f"Bearer {tokens['access_token']}"},
                   tokens["refresh_token"])
