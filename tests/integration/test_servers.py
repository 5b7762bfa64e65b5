"""The suite's servers work for real: RabbitMQ quorum queues, PostgreSQL DDL, Redis."""
from __future__ import annotations

import uuid

import aio_pika
import asyncpg
import redis.asyncio as redis
from pamqp.commands import Basic

from tests.servers import Servers


async def test_rabbitmq_quorum_queue_publish_with_confirm_and_consume(servers: Servers) -> None:
    connection = await aio_pika.connect(servers.rabbitmq_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        name = f"test-servers-{uuid.uuid4().hex[:8]}"
        queue = await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        confirmation = await channel.default_exchange.publish(
            aio_pika.Message(b"hello", delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=name
        )
        assert isinstance(confirmation, Basic.Ack)

        async with queue.iterator(timeout=10) as messages:
            async for message in messages:
                async with message.process():
                    assert message.body == b"hello"
                break
        await queue.delete(if_unused=False, if_empty=False)


async def test_postgres_select_and_ddl_on_fresh_database(fresh_database) -> None:
    url = fresh_database("test_servers_")
    assert url.startswith("postgresql+asyncpg://")
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await conn.fetchval("SELECT 1") == 1
        await conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
        await conn.execute("INSERT INTO notes (body) VALUES ($1), ($2)", "a", "b")
        assert await conn.fetchval("SELECT count(*) FROM notes") == 2
        await conn.execute("DROP TABLE notes")
        assert await conn.fetchval("SELECT to_regclass('notes')") is None
    finally:
        await conn.close()


def test_create_database_is_idempotent(servers: Servers) -> None:
    name = f"test_idem_{uuid.uuid4().hex[:8]}"
    assert servers.create_database(name) == servers.create_database(name) == servers.postgres_url(name)


async def test_redis_set_get_and_sorted_set(servers: Servers) -> None:
    client = redis.Redis.from_url(servers.redis_url, decode_responses=True)
    try:
        key = f"test:{uuid.uuid4().hex[:8]}"
        await client.set(key, "value", ex=60)
        assert await client.get(key) == "value"
        await client.zadd(f"{key}:board", {"ann": 3, "bob": 5})
        await client.zincrby(f"{key}:board", 4, "ann")
        assert await client.zrevrange(f"{key}:board", 0, -1, withscores=True) == [("ann", 7.0), ("bob", 5.0)]
        await client.delete(key, f"{key}:board")
    finally:
        await client.aclose()


def test_env_points_at_the_servers(servers: Servers) -> None:
    env = servers.env()
    assert env["POSTGRES_PORT"] == str(servers.postgres_port)
    assert env["RABBITMQ_URL"] == servers.rabbitmq_url and env["REDIS_URL"] == servers.redis_url
    assert set(env) == {"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD",
                        "RABBITMQ_URL", "REDIS_URL"}
