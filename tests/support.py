"""Helpers for tests: signing test tokens, running a service app in-process, waiting for things."""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from jwt import PyJWK

from shared.auth import public_jwk
from shared.runtime import Runtime

ISSUER, AUDIENCE = "repitbot", "repitbot-api"


@dataclass
class Person:
    """A user the tests act as: their id, role and the Authorization header of their token."""

    id: uuid.UUID
    role: str
    headers: dict[str, str]


class TestKeys:
    """A signing key of the tests' own, as a key source for services under test."""

    __test__ = False

    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self.private = Ed25519PrivateKey.generate()
        self._jwk = PyJWK.from_dict(public_jwk(self.private, kid, "EdDSA"))

    async def key(self, kid: str) -> PyJWK | None:
        return self._jwk if kid == self.kid else None

    def token(self, user_id: uuid.UUID, role: str, *, ttl: int = 900, **claims: Any) -> str:
        now = int(time.time())
        body = {"sub": str(user_id), "role": role, "iss": ISSUER, "aud": AUDIENCE,
                "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(body, self.private, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, user_id: uuid.UUID, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, role)}"}


@contextlib.asynccontextmanager
async def running(app: FastAPI, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client that talks to it in-process."""
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url) as client:
            yield client


@contextlib.asynccontextmanager
async def tapped(amqp_url: str, *routing_keys: str) -> AsyncIterator[list[Any]]:
    """Every message published on the platform exchange under these keys while the block runs,
    collected (acknowledged) by a queue of the test's own."""
    import aio_pika

    from shared.events import EXCHANGE

    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        for key in routing_keys:
            await queue.bind(exchange, routing_key=key)
        messages: list[Any] = []

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()
            messages.append(message)

        await queue.consume(keep)
        yield messages
    finally:
        await connection.close()


def mesh_settings_env(servers: Any, database_url: str) -> dict[str, str]:
    """Environment for a service in mesh mode against the test servers."""
    return {**servers.env(), "REPITBOT_MODE": "mesh", "DATABASE_URL": database_url,
            "ENVIRONMENT": "test", "LOG_JSON": "true"}


def mesh_runtime(servers: Any, keys: TestKeys | None = None) -> Runtime:
    """A runtime on the real RabbitMQ and Redis of the test servers."""
    from shared.rabbit import RabbitBus
    from shared.redis_factory import make_redis
    return Runtime(bus=RabbitBus(servers.rabbitmq_url, max_attempts=3, retry_delay=0.02),
                   redis=make_redis(servers.redis_url), key_source=keys)


async def eventually(check: Callable[[], Awaitable[Any] | Any], *, timeout: float = 10.0,
                     interval: float = 0.05) -> Any:
    """Poll `check` (a coroutine function, or a plain one) until it returns a truthy value
    (returned) or raise after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
        except AssertionError as exc:
            last_error = exc
        await asyncio.sleep(interval)
    if last_error:
        raise last_error
    raise AssertionError(f"condition not met within {timeout}s")
