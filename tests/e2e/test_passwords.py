"""Login through the gateway as an attacker probing for accounts would, and a login storm."""
from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from argon2 import extract_parameters

from shared.settings import Settings
from tests.hashing import Argon2Calls, pool_held
from tests.support import running

PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"


@pytest.fixture
def platform(monkeypatch, tmp_path) -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """`async with platform(NAME=value, ...) as client:` the embedded platform with those settings."""

    @contextlib.asynccontextmanager
    async def start(**environment: str) -> AsyncIterator[httpx.AsyncClient]:
        from repitbot.embedded import create_embedded_app
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        app = create_embedded_app(Settings(var_dir=tmp_path, log_json=True), seed=False)
        async with running(app) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client

    return start


async def _register(client: httpx.AsyncClient, email: str | None = None) -> httpx.Response:
    return await client.post("/auth/register", json={
        "email": email or f"student-{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD,
        "full_name": "Student Test", "role": "student"})


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password})


async def test_an_unknown_email_and_a_wrong_password_cost_one_argon2_verification_alike(platform, monkeypatch):
    async with platform() as client:
        email = (await _register(client)).json()["email"]
        calls = Argon2Calls.install(monkeypatch)
        unknown = await _login(client, f"nobody-{uuid.uuid4().hex[:8]}@example.org", "a wrong password")
        unknown_calls, unknown_hashes = list(calls.verified), calls.hashed
        calls.clear()
        wrong = await _login(client, email, "a wrong password")
    assert len(unknown_calls) == len(calls.verified) == 1 and unknown_hashes == calls.hashed == 0
    assert extract_parameters(unknown_calls[0]) == extract_parameters(calls.verified[0])
    assert unknown.status_code == wrong.status_code == 401
    assert {**unknown.json(), "correlation_id": None} == {**wrong.json(), "correlation_id": None}
    assert unknown.headers.keys() - {"x-correlation-id"} == wrong.headers.keys() - {"x-correlation-id"}


async def test_registering_a_taken_email_costs_one_hash_like_a_new_one_and_says_409(platform, monkeypatch):
    async with platform() as client:
        email = (await _register(client)).json()["email"]
        calls = Argon2Calls.install(monkeypatch)
        taken = await _register(client, email)
        taken_hashes = calls.hashed
        calls.clear()
        new = await _register(client)
    assert taken.status_code == 409 and new.status_code == 201
    assert taken_hashes == calls.hashed == 1


async def test_an_unknown_email_and_a_known_one_are_throttled_after_the_same_failures(platform):
    async with platform(AUTH_RATE_LIMIT_PER_MINUTE="100", LOGIN_MAX_FAILURES_PER_ACCOUNT="3") as client:
        email = (await _register(client)).json()["email"]
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.org"
        answers = {address: [(await _login(client, address, "a wrong password")).status_code for _ in range(4)]
                   for address in (email, unknown)}
        refusals = [re.sub(r"\d+", "N", (await _login(client, address)).json()["detail"])
                    for address in (email, unknown)]
    assert answers[email] == answers[unknown] == [401, 401, 401, 429]
    assert refusals[0] == refusals[1]        # the same words; the seconds left differ by the time passed


async def test_a_login_storm_beyond_the_hashing_queue_is_refused_and_the_user_service_stays_reachable(platform):
    async with platform(AUTH_RATE_LIMIT_PER_MINUTE="100", PASSWORD_HASH_CONCURRENCY="1",
                        PASSWORD_HASH_MAX_WAITING="0", CIRCUIT_BREAKER_FAILURE_THRESHOLD="3") as client:
        email = (await _register(client)).json()["email"]
        token = (await _login(client, email)).json()["access_token"]
        pool = client.app.state.service_apps["user"].state.deps.passwords.pool  # type: ignore[attr-defined]
        async with pool_held(pool):
            storm = await asyncio.gather(*(_login(client, email) for _ in range(6)))
            me = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        after = await _login(client, email)
    assert [r.status_code for r in storm] == [503] * 6
    assert all(r.headers["content-type"] == PROBLEM and int(r.headers["retry-after"]) >= 1 for r in storm)
    assert me.status_code == 200           # the breaker of the user service stayed closed
    assert after.status_code == 200
