"""Events per second: outbox relay -> RabbitMQ -> inbox consumer writing one row in PostgreSQL,
beside raw aio-pika publish (confirms) -> consume (acks) of the same messages, in one run.

    python -m bench.bus [--events 5000]

Starts its own throw-away PostgreSQL and RabbitMQ on loopback (as the test suite does).
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared.db import UnitOfWork, make_engine
from shared.events import Event, UserCreated, make_event
from shared.inbox import Consumer, Handlers
from shared.outbox import OutboxMessage, OutboxRelay
from shared.rabbit import RabbitBus
from shared.sql import MessagingBase
from tests.servers import start_servers, stop_servers

PREFETCH = 200    # deliveries in flight per consumer, both ways (the batches need room to overlap)
rows = Table("bench_rows", metadata := MetaData(), Column("event_id", String(40), primary_key=True))


def _events(n: int) -> list[Event]:
    return [make_event(UserCreated(user_id=uuid.uuid4(), role="student", full_name="Bench",
                                   email="bench@example.org"), producer="bench") for _ in range(n)]


async def raw_rate(url: str, events: list[Event]) -> float:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=PREFETCH)
        queue = await channel.declare_queue(f"bench-raw-{uuid.uuid4().hex[:6]}", durable=True,
                                            arguments={"x-queue-type": "quorum"})
        done, count = asyncio.Event(), 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal count
            await message.ack()
            count += 1
            if count == len(events):
                done.set()

        await queue.consume(on_message)
        started = time.perf_counter()
        for i in range(0, len(events), 100):
            await asyncio.gather(*(channel.default_exchange.publish(
                aio_pika.Message(e.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=queue.name) for e in events[i:i + 100]))
        await done.wait()
        elapsed = time.perf_counter() - started
        await queue.delete(if_unused=False, if_empty=False)
    return len(events) / elapsed


async def pipeline_rate(url: str, database_url: str, events: list[Event], *, per_event: bool) -> float:
    """The platform's path; the row written by a batch handler (one statement for the events of a
    consumer transaction) or, with `per_event`, by a handler called once per event."""
    engine = make_engine(database_url, pool_size=10)
    async with engine.begin() as conn:
        await conn.run_sync(MessagingBase.metadata.create_all)
        await conn.run_sync(metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with UnitOfWork(sessions, producer="bench") as uow:      # the business transactions' rows
        for event in events:
            uow.session.add(OutboxMessage.from_event(event))
        await uow.commit()

    bus = RabbitBus(url, prefetch=PREFETCH)
    handlers, done, count = Handlers(), asyncio.Event(), 0

    def handled(n: int) -> None:
        nonlocal count
        count += n
        if count == len(events):
            done.set()

    if per_event:
        @handlers.on("user.created")
        async def on_user_created(uow: UnitOfWork, event: Event) -> None:
            await uow.session.execute(rows.insert().values(event_id=str(event.id)))
            handled(1)
    else:
        @handlers.on_batch("user.created")
        async def on_users_created(uow: UnitOfWork, batch: list[Event]) -> None:
            await uow.session.execute(rows.insert(), [{"event_id": str(event.id)} for event in batch])
            handled(len(batch))

    await bus.subscribe(f"bench-{uuid.uuid4().hex[:6]}.events", ["user.created"],
                        Consumer("bench", lambda: UnitOfWork(sessions, producer="bench"), handlers))
    relay = OutboxRelay(sessions, bus, service="bench", batch_size=200)
    started = time.perf_counter()
    task = asyncio.create_task(relay.run())
    await done.wait()
    elapsed = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await bus.close()
    await engine.dispose()
    return len(events) / elapsed


async def main(n: int) -> None:
    servers = start_servers(Path(tempfile.mkdtemp(prefix="repitbot-bench-")))
    try:
        database_url = servers.create_database(f"bench_{uuid.uuid4().hex[:6]}")
        await raw_rate(servers.rabbitmq_url, _events(200))                 # warm up
        raw = await raw_rate(servers.rabbitmq_url, _events(n))
        batched = await pipeline_rate(servers.rabbitmq_url, database_url, _events(n), per_event=False)
        per_event = await pipeline_rate(servers.rabbitmq_url, database_url, _events(n), per_event=True)
    finally:
        stop_servers()
    print(f"events: {n}")
    print(f"raw aio-pika publish(confirm) -> consume(ack), quorum queue: {raw:8.0f} msg/s")
    print("outbox relay -> RabbitMQ -> inbox consumer, +1 row per event (PostgreSQL):")
    print(f"  written by a batch handler:     {batched:8.0f} events/s   ratio to raw {batched / raw:.2f}")
    print(f"  written by a per-event handler: {per_event:8.0f} events/s   ratio to raw {per_event / raw:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    asyncio.run(main(parser.parse_args().events))
