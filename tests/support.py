"""Helpers for tests: signing test tokens, running a service app in-process, waiting for things."""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from jwt import PyJWK

from shared.auth import public_jwk
from shared.events import EXCHANGE, Event
from shared.runtime import Runtime

ISSUER, AUDIENCE = "repitbot", "repitbot-api"


class FakeClock:
    """A time that moves only when the test says; counts how often it was read (a loop that
    reads it once a round shows its rounds)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.reads = 0

    def __call__(self) -> datetime:
        self.reads += 1
        return self.now

    def timestamp(self) -> float:
        """The time as seconds since the epoch (for clocks of that kind)."""
        return self().timestamp()

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


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


@dataclass
class Tap:
    """Every message published on the platform exchange under the tap's keys while it is open."""

    messages: list[Any] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [Event.model_validate_json(m.body) for m in self.messages]

    def of(self, event_type: str, **payload: Any) -> list[Event]:
        """The events of this type whose payload has these values (compared as text), in arrival order."""
        return [e for e in self.events if e.type == event_type
                and all(str(e.payload.get(k)) == str(v) for k, v in payload.items())]

    def types(self, **payload: Any) -> list[str]:
        """The types of the events whose payload has these values, in arrival order."""
        return [e.type for e in self.events if all(str(e.payload.get(k)) == str(v) for k, v in payload.items())]

    def message(self, event: Event) -> Any:
        """The AMQP message that carried `event` (its properties: correlation id, type, routing key)."""
        return next(m for m in self.messages if m.message_id == str(event.id))

    async def wait_for(self, event_type: str, *, count: int = 1, timeout: float = 15.0,
                       **payload: Any) -> list[Event]:
        """The matching events once at least `count` have arrived."""
        async def arrived() -> list[Event] | None:
            found = self.of(event_type, **payload)
            return found if len(found) >= count else None
        return await eventually(arrived, timeout=timeout)


@contextlib.asynccontextmanager
async def tapped(amqp_url: str, *routing_keys: str) -> AsyncIterator[Tap]:
    """A `Tap` on these keys, filled (and acknowledged) by a queue of the test's own."""
    import aio_pika

    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        for key in routing_keys:
            await queue.bind(exchange, routing_key=key)
        tap = Tap()

        async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()
            tap.messages.append(message)

        await queue.consume(keep)
        yield tap
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


def consumed(service: str, event_type: str, outcome: str = "processed") -> float:
    """How many events of this type the service's consumers have committed, by outcome
    (`processed` or `duplicate`), in this process so far."""
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value("repitbot_events_consumed_total", {
        "service": service, "type": event_type, "outcome": outcome}) or 0.0
