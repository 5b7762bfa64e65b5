"""The student service in-process on the suite's real PostgreSQL, RabbitMQ and Redis.

The tests play the other services: they publish `user.*`, `lesson.completed` ... envelopes on
RabbitMQ and read the student service's database, API and outgoing events. A `tap` is an
exclusive queue bound to the student service's event types on the platform exchange.
"""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from services.student.app import create_app
from services.student.settings import StudentSettings
from shared.rabbit import RabbitBus
from tests.integration.student.world import StudentWorld
from tests.support import Tap, TestKeys, mesh_runtime, running, tapped


def student_settings(servers, database_url: str, **extra) -> StudentSettings:
    extra.setdefault("leaderboard_key_prefix", f"test-{uuid.uuid4().hex[:8]}:leaderboard:")
    return StudentSettings(mode="mesh", environment="test", database_url=database_url,
                           redis_url=servers.redis_url, rabbitmq_url=servers.rabbitmq_url, **extra)


@pytest.fixture
def start_student_service(servers) -> Callable:
    """`async with start(database_url, keys) as (client, app)`: one more instance of the service."""

    @contextlib.asynccontextmanager
    async def start(database_url: str, keys: TestKeys, **extra):
        runtime = mesh_runtime(servers, keys)
        try:
            app = create_app(student_settings(servers, database_url, **extra), runtime)
            async with running(app) as client:
                yield client, app
        finally:
            await runtime.close()

    return start


@pytest.fixture
async def world(servers, fresh_database, start_student_service) -> AsyncIterator[StudentWorld]:
    keys = TestKeys()
    other_services = RabbitBus(servers.rabbitmq_url)
    try:
        async with start_student_service(fresh_database("student_"), keys) as (client, app):
            yield StudentWorld(client, app, keys, other_services)
    finally:
        await other_services.close()


@pytest.fixture
async def tap(servers) -> AsyncIterator[Tap]:
    async with tapped(servers.rabbitmq_url, "xp.earned", "student.level_up", "achievement.earned") as tap:
        yield tap
