"""The outbox, the relay, the inbox and the dead-letter queue on real PostgreSQL and RabbitMQ."""
import asyncio
import os
import subprocess
import sys
import uuid

import aio_pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared import context
from shared.bus import PoisonMessage
from shared.db import UnitOfWork, make_engine
from shared.events import EXCHANGE, Event, UserCreated, UserUpdated, make_event
from shared.inbox import Consumer, Handlers, InboxEntry
from shared.outbox import OutboxMessage, OutboxRelay
from shared.rabbit import RabbitBus
from shared.sql import MessagingBase
from tests.support import eventually

probe_metadata = MetaData()
hits = Table("hits", probe_metadata, Column("id", Integer, primary_key=True), Column("user_id", String(64)))


@pytest.fixture
async def database(fresh_database):
    engine = make_engine(fresh_database("messaging"))
    async with engine.begin() as conn:
        await conn.run_sync(MessagingBase.metadata.create_all)
        await conn.run_sync(probe_metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@pytest.fixture
async def bus(servers):
    bus = RabbitBus(servers.rabbitmq_url, max_attempts=3, retry_delay=0.01)
    await bus.start()
    yield bus
    await bus.close()


def _user_created() -> UserCreated:
    return UserCreated(user_id=uuid.uuid4(), role="student", full_name="Anna", email="anna@example.org")


def _recording_handlers(received: list[Event]) -> Handlers:
    handlers = Handlers()

    @handlers.on("user.created")
    async def on_user_created(uow: UnitOfWork, event: Event) -> None:
        await uow.session.execute(hits.insert().values(user_id=str(event.payload_as(UserCreated).user_id)))
        received.append(event)

    return handlers


async def _count_hits(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(hits))


async def test_an_event_committed_with_a_change_reaches_a_consumer_with_its_correlation_id(database, bus):
    queue = f"probe-{uuid.uuid4().hex[:8]}.events"
    received: list[Event] = []
    await bus.subscribe(queue, ["user.created"], Consumer("probe", lambda: UnitOfWork(database, producer="probe"),
                                                          _recording_handlers(received)))
    context.correlation_id.set("req-4711")
    async with UnitOfWork(database, producer="user") as uow:
        sent = uow.emit(_user_created())
        await uow.commit()
    assert await OutboxRelay(database, bus, service="user").relay_once() == 1

    await eventually(lambda: len(received) == 1)
    assert received[0].id == sent.id
    assert received[0].correlation_id == "req-4711"
    async with database() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.event_id == sent.id))
    assert row.published_at is not None


async def test_a_published_event_carries_its_id_type_correlation_and_cause_as_amqp_properties(servers, bus):
    connection = await aio_pika.connect_robust(servers.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True)
        await queue.bind(exchange, routing_key="user.created")
        context.correlation_id.set("req-4712")
        cause = uuid.uuid4()
        context.causation_id.set(cause)
        event = make_event(_user_created(), producer="user")
        await bus.publish([event])

        message = await eventually(lambda: queue.get(fail=False))
        assert (message.message_id, message.type, message.routing_key) == (str(event.id), "user.created",
                                                                           "user.created")
        assert (message.correlation_id, message.headers["causation_id"]) == ("req-4712", str(cause))
        assert message.content_type == "application/json"
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        assert message.timestamp == event.occurred_at.replace(microsecond=0)
        assert Event.model_validate_json(message.body) == event


async def test_the_same_event_delivered_twice_changes_nothing(database, bus):
    queue = f"probe-{uuid.uuid4().hex[:8]}.events"
    received: list[Event] = []
    await bus.subscribe(queue, ["user.created"], Consumer("probe", lambda: UnitOfWork(database, producer="probe"),
                                                          _recording_handlers(received)))
    event = make_event(_user_created(), producer="user")
    await bus.publish([event])
    await bus.publish([event])
    marker = make_event(_user_created(), producer="user")
    await bus.publish([marker])
    await eventually(lambda: any(e.id == marker.id for e in received))
    assert [e.id for e in received].count(event.id) == 1
    assert await _count_hits(database) == 2


async def test_a_handler_that_always_fails_ends_in_the_dead_letter_queue_and_replay_brings_it_back(
        database, bus, servers):
    queue = f"probe-{uuid.uuid4().hex[:8]}.events"
    healthy = False
    handled: list[Event] = []

    async def handler(event: Event) -> None:
        if not healthy:
            raise RuntimeError("downstream is broken")
        handled.append(event)

    await bus.subscribe(queue, ["user.created"], handler)
    event = make_event(_user_created(), producer="user")
    await bus.publish([event])

    parked = await eventually(lambda: bus.dead_letters(queue))
    assert parked[0].event().id == event.id
    assert "downstream is broken" in parked[0].reason and parked[0].attempts == 3

    listing = _cli(servers, "dlq", "list", "user", "--queue", queue)
    assert str(event.id) in listing and "downstream is broken" in listing
    healthy = True
    assert "replayed 1 message" in _cli(servers, "dlq", "replay", "user", "--queue", queue)
    await eventually(lambda: len(handled) == 1)
    assert handled[0].id == event.id
    assert await bus.dead_letters(queue) == []


async def test_a_message_that_is_not_an_event_is_parked_at_once(bus):
    queue = f"probe-{uuid.uuid4().hex[:8]}.events"
    calls = 0

    async def handler(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise PoisonMessage("unknown schema")

    await bus.subscribe(queue, ["user.created"], handler)
    await bus.publish([make_event(_user_created(), producer="user")])
    parked = await eventually(lambda: bus.dead_letters(queue))
    assert calls == 1 and parked[0].reason.startswith("poison")


class _HangingBus:
    """A broker connection that hangs while publishing: the relay process is killed mid-way."""

    def __init__(self) -> None:
        self.publishing = asyncio.Event()
        self.envelopes: list[dict] = []

    async def publish_envelopes(self, envelopes):
        self.envelopes.extend(envelopes)
        self.publishing.set()
        await asyncio.Event().wait()


async def test_killing_the_relay_between_commit_and_publish_loses_no_event(database, bus):
    queue = f"probe-{uuid.uuid4().hex[:8]}.events"
    received: list[Event] = []
    await bus.subscribe(queue, ["user.created"], Consumer("probe", lambda: UnitOfWork(database, producer="probe"),
                                                          _recording_handlers(received)))
    async with UnitOfWork(database, producer="user") as uow:
        sent = uow.emit(_user_created())
        await uow.commit()

    hanging = _HangingBus()
    dying = asyncio.create_task(OutboxRelay(database, hanging, service="user").run())
    await asyncio.wait_for(hanging.publishing.wait(), timeout=10)
    assert [envelope["id"] for envelope in hanging.envelopes] == [str(sent.id)]  # killed while publishing it
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)
    async with database() as session:
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.event_id == sent.id))
    assert row.published_at is None

    restarted = OutboxRelay(database, bus, service="user")
    assert await restarted.relay_once() == 1
    await eventually(lambda: len(received) == 1)
    assert received[0].id == sent.id


async def test_two_relays_at_once_publish_each_row_once(database, bus):
    queue = f"probe-{uuid.uuid4().hex[:8]}.events"
    received: list[Event] = []
    await bus.subscribe(queue, ["user.created"], Consumer("probe", lambda: UnitOfWork(database, producer="probe"),
                                                          _recording_handlers(received)))
    async with UnitOfWork(database, producer="user") as uow:
        for _ in range(300):
            uow.emit(_user_created())
        await uow.commit()
    relays = [OutboxRelay(database, bus, service="user", batch_size=20) for _ in range(2)]

    async def drain(relay: OutboxRelay) -> int:
        total = 0
        while (n := await relay.relay_once()):
            total += n
        return total

    counts = await asyncio.gather(*(drain(r) for r in relays))
    assert sum(counts) == 300 and all(counts)
    await eventually(lambda: len(received) == 300, timeout=20)
    assert len({e.id for e in received}) == 300


async def test_a_commit_made_while_the_relay_looks_is_published_at_once_not_at_the_next_poll(database, bus):
    queue = f"probe-{uuid.uuid4().hex[:8]}.events"
    received: list[Event] = []
    await bus.subscribe(queue, ["user.created"], Consumer("probe", lambda: UnitOfWork(database, producer="probe"),
                                                          _recording_handlers(received)))

    class CommitDuringTheRound(OutboxRelay):
        committed = None

        async def relay_once(self) -> int:
            found = await super().relay_once()
            if self.committed is None:      # a business transaction commits after this round's query
                async with UnitOfWork(database, producer="user", on_commit=self.notify) as uow:
                    self.committed = uow.emit(_user_created())
                    await uow.commit()
            return found

    relay = CommitDuringTheRound(database, bus, service="user", poll_interval=60)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: len(received) == 1, timeout=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert received[0].id == relay.committed.id


class _CountingUnitOfWork(UnitOfWork):
    commits = 0

    async def commit(self) -> None:
        await super().commit()
        type(self).commits += 1


async def test_events_that_arrive_together_are_written_in_one_transaction_and_a_repeated_one_once(database):
    received: list[Event] = []
    _CountingUnitOfWork.commits = 0
    consumer = Consumer("probe", lambda: _CountingUnitOfWork(database, producer="probe"),
                        _recording_handlers(received), max_batch=100)
    events = [make_event(_user_created(), producer="user") for _ in range(50)]

    await asyncio.gather(*(consumer(event) for event in [*events, events[7]]))

    assert [e.id for e in received] == [e.id for e in events]
    assert await _count_hits(database) == 50
    assert _CountingUnitOfWork.commits <= 2      # 50 one-event transactions without batching


async def test_a_failing_event_in_a_batch_fails_alone_and_leaves_no_inbox_row(database):
    received: list[Event] = []
    handlers = _recording_handlers(received)
    events = [make_event(_user_created(), producer="user") for _ in range(20)]
    bad = events[5]

    @handlers.on("user.created")
    async def refuse_one(uow: UnitOfWork, event: Event) -> None:
        if event.id == bad.id:
            raise RuntimeError("this one is broken")

    consumer = Consumer("probe", lambda: UnitOfWork(database, producer="probe"), handlers)
    outcomes = await asyncio.gather(*(consumer(event) for event in events), return_exceptions=True)

    assert [type(o).__name__ for o in outcomes if o is not None] == ["RuntimeError"]
    assert outcomes[5] is not None
    assert await _count_hits(database) == 19
    async with database() as session:
        inbox = {row.event_id for row in await session.scalars(select(InboxEntry))}
    assert bad.id not in inbox and {e.id for e in events} - {bad.id} <= inbox


async def test_a_batch_handler_gets_the_new_events_of_its_types_once_in_arrival_order(database):
    handlers, per_event, batches = Handlers(), [], []

    @handlers.on("user.created")
    async def on_created(uow: UnitOfWork, event: Event) -> None:
        per_event.append(event.id)

    @handlers.on_batch("user.created", "user.updated")
    async def on_users(uow: UnitOfWork, events: list[Event]) -> None:
        batches.append([e.id for e in events])

    consumer = Consumer("probe", lambda: UnitOfWork(database, producer="probe"), handlers)
    seen = make_event(_user_created(), producer="user")
    await consumer(seen)
    events = [make_event(_user_created(), producer="user"),
              make_event(UserUpdated(user_id=uuid.uuid4(), changed={"full_name": "Anna B."}), producer="user"),
              make_event(_user_created(), producer="user")]
    await asyncio.gather(*(consumer(e) for e in [*events, seen, events[0]]))

    assert batches == [[seen.id], [e.id for e in events]]
    assert per_event == [seen.id, events[0].id, events[2].id]
    assert sorted(handlers.routing_keys) == ["user.created", "user.updated"]


def _cli(servers, *args: str) -> str:
    env = {**os.environ, **servers.env(), "REPITBOT_MODE": "mesh", "LOG_JSON": "false"}
    result = subprocess.run([sys.executable, "-m", "repitbot.cli", *args], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout
