"""The lesson service in-process on the suite's real PostgreSQL, RabbitMQ and Redis.

The test plays the user service: it publishes `user.*` events on RabbitMQ and waits until the
lesson service's read model has them. A `tap` is an exclusive queue bound to `lesson.#` on the
platform exchange, i.e. what any consuming service would receive.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.lesson.app import create_app
from services.lesson.settings import LessonSettings
from shared.rabbit import RabbitBus
from tests.integration.lesson.world import LessonWorld
from tests.support import Tap, TestKeys, mesh_runtime, running, tapped


@pytest.fixture
async def world(servers, fresh_database, tmp_path) -> AsyncIterator[LessonWorld]:
    keys = TestKeys()
    settings = LessonSettings(mode="mesh", environment="test", var_dir=tmp_path,
                              database_url=fresh_database("lesson_"),
                              redis_url=servers.redis_url, rabbitmq_url=servers.rabbitmq_url,
                              public_base_url="https://api.repitbot.test")
    runtime = mesh_runtime(servers, keys)
    user_service = RabbitBus(servers.rabbitmq_url)
    app = create_app(settings, runtime)
    try:
        async with running(app) as client:
            yield LessonWorld(client, app, keys, user_service)
    finally:
        await user_service.close()
        await runtime.close()


@pytest.fixture
async def tap(servers) -> AsyncIterator[Tap]:
    async with tapped(servers.rabbitmq_url, "lesson.#") as tap:
        yield tap
