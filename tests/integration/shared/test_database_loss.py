"""Connections are not pinged before use: a connection lost under the pool fails one operation,
which makes the pool drop its connections, and what follows works on new ones."""
import uuid

import asyncpg
import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.db import UnitOfWork, make_engine
from shared.errors import install_problem_handlers
from shared.events import Event, UserCreated, make_event
from shared.inbox import Consumer, Handlers
from shared.rabbit import RabbitBus
from shared.sql import MessagingBase
from tests.support import eventually


async def _fetch(url: str, query: str, *args: object) -> int:
    """One value, on a connection of its own (outside the pool under test)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def _kill_connections(url: str) -> int:
    return await _fetch(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")


async def test_a_request_on_a_lost_connection_gets_a_503_to_retry_and_the_retry_works(fresh_database):
    url = fresh_database("loss")
    engine = make_engine(url, pool_size=2)
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/answer")
    async def answer() -> dict:
        async with engine.connect() as conn:
            return {"answer": await conn.scalar(text("SELECT 42"))}

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            assert (await client.get("/answer")).json() == {"answer": 42}
            assert await _kill_connections(url) == 1        # the pooled connection

            lost = await client.get("/answer")
            assert lost.status_code == 503
            assert lost.headers["content-type"] == "application/problem+json"
            assert lost.headers["retry-after"] == "1"
            assert "retry" in lost.json()["detail"]

            assert (await client.get("/answer")).json() == {"answer": 42}
    finally:
        await engine.dispose()


async def test_an_event_consumed_on_a_lost_connection_is_retried_and_written_once(servers, fresh_database):
    url = fresh_database("loss")
    engine = make_engine(url, pool_size=2)
    async with engine.begin() as conn:
        await conn.run_sync(MessagingBase.metadata.create_all)
        await conn.execute(text("CREATE TABLE seen (event_id uuid)"))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    handlers = Handlers()

    @handlers.on("user.created")
    async def on_user_created(uow: UnitOfWork, event: Event) -> None:
        await uow.session.execute(text("INSERT INTO seen VALUES (:id)"), {"id": event.id})

    bus = RabbitBus(servers.rabbitmq_url, retry_delay=0.01)
    try:
        await bus.subscribe(f"loss-{uuid.uuid4().hex[:8]}.events", ["user.created"],
                            Consumer("loss", lambda: UnitOfWork(sessions, producer="loss"), handlers))
        first, second = (make_event(UserCreated(user_id=uuid.uuid4(), role="student", full_name="Anna",
                                                email="anna@example.org"), producer="user") for _ in range(2))
        await bus.publish([first])
        await eventually(lambda: _seen(url, first.id))
        assert await _kill_connections(url) == 1        # the consumer's

        await bus.publish([second])
        await eventually(lambda: _seen(url, second.id))
        assert await _fetch(url, "SELECT count(*) FROM seen") == 2
        assert _failures() == 1      # the delivery on the dead connection, then the redelivery worked
    finally:
        await bus.close()
        await engine.dispose()


def _failures() -> float:
    return REGISTRY.get_sample_value("repitbot_events_failed_total",
                                     {"service": "loss", "type": "user.created"}) or 0.0


async def _seen(url: str, event_id: uuid.UUID) -> bool:
    return bool(await _fetch(url, "SELECT count(*) FROM seen WHERE event_id = $1", event_id))
