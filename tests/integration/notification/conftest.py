"""The notification service in-process on the suite's real PostgreSQL, RabbitMQ and Redis,
with a real SMTP server and a fake Bot API on loopback.

The tests play the other services: they publish events on RabbitMQ as those would.
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from services.notification.app import create_app
from services.notification.settings import NotificationSettings
from shared.rabbit import RabbitBus
from tests.integration.notification.world import BOT_TOKEN, FakeBotApi, SmtpServer, World
from tests.support import FakeClock, TestKeys, mesh_runtime, running

MANUAL = 3600.0  # a dispatcher interval that leaves the rounds to the test (dispatch_due)


@pytest.fixture
def smtp() -> AsyncIterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def bot() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_settings(servers, fresh_database, smtp, bot, tmp_path) -> Callable[..., NotificationSettings]:
    """Settings of one service instance; every instance of a test shares the database."""
    database_url = fresh_database("notification_")

    def make(**overrides: Any) -> NotificationSettings:
        values: dict[str, Any] = dict(
            mode="mesh", environment="test", var_dir=tmp_path, database_url=database_url,
            redis_url=servers.redis_url,
            rabbitmq_url=servers.rabbitmq_url, smtp_host="127.0.0.1", smtp_port=smtp.port,
            smtp_start_tls=False, smtp_timeout_seconds=2, bot_token=BOT_TOKEN, telegram_api_base=bot.url,
            telegram_timeout_seconds=2, delivery_lease_seconds=30, delivery_max_attempts=3,
            delivery_backoff_seconds=60, dispatch_interval_seconds=MANUAL)
        return NotificationSettings(**{**values, **overrides})

    return make


@pytest.fixture
def start(servers, make_settings, smtp, bot, clock):
    """`async with start(**settings) as world:` runs one instance of the service."""
    keys = TestKeys()

    @contextlib.asynccontextmanager
    async def instance(**overrides: Any) -> AsyncIterator[World]:
        runtime = mesh_runtime(servers, keys)
        bus = RabbitBus(servers.rabbitmq_url)
        app = create_app(make_settings(**overrides), runtime, clock=clock)
        try:
            async with running(app) as client:
                yield World(client, app, keys, bus, smtp, bot, clock)
        finally:
            await bus.close()
            await runtime.close()

    return instance


@pytest.fixture
async def world(start) -> AsyncIterator[World]:
    async with start() as world:
        yield world
