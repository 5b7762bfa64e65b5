"""The payment service in-process on the suite's real PostgreSQL, RabbitMQ and Redis, with local
fakes of the YooKassa and Stripe APIs on loopback. The test plays the user and lesson services:
it publishes their events on RabbitMQ."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack

import pytest

from services.payment.app import create_app
from services.payment.settings import PaymentSettings
from shared.rabbit import RabbitBus
from tests.integration.payment.world import PaymentWorld
from tests.payment_fakes import (
    SHOP_ID,
    SHOP_SECRET,
    STRIPE_KEY,
    STRIPE_WEBHOOK_SECRET,
    FakeStripe,
    FakeYooKassa,
    fake_stripe,
    fake_yookassa,
)
from tests.support import TestKeys, mesh_runtime, running


@pytest.fixture(scope="module")
def yookassa() -> Iterator[FakeYooKassa]:
    with fake_yookassa() as fake:
        yield fake


@pytest.fixture(scope="module")
def stripe_api() -> Iterator[FakeStripe]:
    with fake_stripe() as fake:
        yield fake


def payment_settings(servers, database_url: str, tmp_path, yookassa: FakeYooKassa,
                     stripe_api: FakeStripe, **overrides) -> PaymentSettings:
    return PaymentSettings(
        mode="mesh", environment="test", var_dir=tmp_path, database_url=database_url,
        redis_url=servers.redis_url, rabbitmq_url=servers.rabbitmq_url, public_base_url="https://api.repitbot.test",
        payment_demo_secret="demo-secret", yookassa_shop_id=SHOP_ID, yookassa_secret_key=SHOP_SECRET,
        yookassa_api_url=yookassa.api_url, stripe_api_key=STRIPE_KEY, stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
        stripe_api_base=stripe_api.url, **overrides)


async def _world(servers, fresh_database, tmp_path, yookassa, stripe_api, instances: int,
                 database_url: str | None = None, **overrides) -> AsyncIterator[PaymentWorld]:
    keys = TestKeys()
    database_url = database_url or fresh_database("payment_")
    publisher = RabbitBus(servers.rabbitmq_url)
    async with AsyncExitStack() as stack:
        clients, apps = [], []
        for i in range(instances):
            runtime = mesh_runtime(servers, keys)
            stack.push_async_callback(runtime.close)
            app = create_app(payment_settings(servers, database_url, tmp_path / str(i), yookassa, stripe_api,
                                              **overrides), runtime)
            clients.append(await stack.enter_async_context(running(app)))
            apps.append(app)
        try:
            yield PaymentWorld(clients[0], apps[0], keys, publisher, others=clients[1:])
        finally:
            await publisher.close()


@pytest.fixture
async def world(servers, fresh_database, tmp_path, yookassa, stripe_api) -> AsyncIterator[PaymentWorld]:
    async for world in _world(servers, fresh_database, tmp_path, yookassa, stripe_api, 1):
        yield world


@pytest.fixture
async def pair(servers, fresh_database, tmp_path, yookassa, stripe_api) -> AsyncIterator[PaymentWorld]:
    """Two instances of the service on one database and one queue."""
    async for world in _world(servers, fresh_database, tmp_path, yookassa, stripe_api, 2):
        yield world


@pytest.fixture(params=["postgresql", "sqlite"])
async def either(request, servers, fresh_database, tmp_path, yookassa, stripe_api) -> AsyncIterator[PaymentWorld]:
    """One instance of the service on PostgreSQL, or on a SQLite file (as in the embedded mode)."""
    url = None if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/payment.db"
    async for world in _world(servers, fresh_database, tmp_path, yookassa, stripe_api, 1, url):
        yield world


@pytest.fixture
async def recovering(servers, fresh_database, tmp_path, yookassa, stripe_api) -> AsyncIterator[PaymentWorld]:
    """One instance whose recovery loop settles what is left unsettled for a second."""
    async for world in _world(servers, fresh_database, tmp_path, yookassa, stripe_api, 1,
                              payment_recovery_after_seconds=1.0):
        yield world


@pytest.fixture
async def impatient(servers, fresh_database, tmp_path, yookassa, stripe_api) -> AsyncIterator[PaymentWorld]:
    """One instance that waits a second for a provider's answer."""
    async for world in _world(servers, fresh_database, tmp_path, yookassa, stripe_api, 1,
                              payment_provider_timeout_seconds=1.0):
        yield world
