"""The material service in-process, on the suite's real PostgreSQL, RabbitMQ and Redis (and on
SQLite with the in-memory bus for what differs: search), with the real user service in-process to
answer its questions about links (as in embedded mode)."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.material.app import create_app
from services.material.settings import MaterialSettings
from services.user.app import create_app as create_user_app
from services.user.settings import UserSettings
from shared.bus import InMemoryBus
from shared.redis_factory import make_redis
from shared.runtime import Runtime
from tests.integration.material.world import MaterialWorld
from tests.support import TestKeys, mesh_runtime, running


@pytest.fixture(scope="module", params=["postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="module")
async def world(backend, servers, tmp_path_factory) -> AsyncIterator[MaterialWorld]:
    """One service per module (and backend): each test makes people of its own."""
    keys = TestKeys()
    tmp_path = tmp_path_factory.mktemp(f"material-{backend}")
    if backend == "postgresql":
        settings = MaterialSettings(mode="mesh", environment="test", var_dir=tmp_path,
                                    database_url=servers.create_database(f"material_{uuid.uuid4().hex[:8]}"),
                                    redis_url=servers.redis_url, rabbitmq_url=servers.rabbitmq_url,
                                    material_max_bytes=2 * 1024 * 1024)
        runtime = mesh_runtime(servers, keys)
    else:
        settings = MaterialSettings(environment="test", var_dir=tmp_path, material_max_bytes=2 * 1024 * 1024)
        runtime = Runtime(bus=InMemoryBus(), redis=make_redis(None), key_source=keys)
    user_settings = UserSettings(environment="test", var_dir=tmp_path / "user")
    users = create_user_app(user_settings, Runtime(bus=InMemoryBus(), redis=make_redis(None)))
    try:
        async with users.router.lifespan_context(users):
            runtime.transports["user"] = httpx.ASGITransport(users)
            app = create_app(settings, runtime)
            async with running(app) as client:
                yield MaterialWorld(client, app, users, keys)
    finally:
        await runtime.close()
