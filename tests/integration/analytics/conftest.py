"""The analytics service in-process on the suite's real PostgreSQL, RabbitMQ and Redis; the tests
play the other services and publish their events on RabbitMQ."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.analytics.app import create_app
from services.analytics.models import READ_MODELS
from services.analytics.settings import AnalyticsSettings
from shared.rabbit import RabbitBus
from tests.support import TestKeys, mesh_runtime, running


@dataclass
class Analytics:
    client: httpx.AsyncClient
    app: FastAPI
    keys: TestKeys
    bus: RabbitBus            # publishes as the other services would
    database_url: str


@pytest.fixture
async def analytics(servers, fresh_database) -> AsyncIterator[Analytics]:
    keys = TestKeys()
    url = fresh_database("analytics_")
    runtime = mesh_runtime(servers, keys)
    others = RabbitBus(servers.rabbitmq_url)
    settings = AnalyticsSettings(mode="mesh", environment="test", database_url=url, redis_url=servers.redis_url,
                                 rabbitmq_url=servers.rabbitmq_url)
    try:
        app = create_app(settings, runtime)
        async with running(app) as client:
            yield Analytics(client, app, keys, others, url)
    finally:
        await others.close()
        await runtime.close()


async def read_models(session_factory) -> dict[str, list[tuple]]:
    """Every row of every read model, in key order: what live consumption and rebuild must agree on."""
    tables = {}
    async with session_factory() as session:
        for model in READ_MODELS:
            table = model.__table__
            rows = await session.execute(select(table).order_by(*table.primary_key.columns))
            tables[table.name] = [tuple(row) for row in rows]
    return tables
