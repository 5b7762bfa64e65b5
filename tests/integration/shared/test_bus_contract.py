"""The bus's contract, run against the in-memory bus and RabbitMQ alike, so that the embedded
and the mesh mode cannot drift apart: topic routing, concurrent deliveries to one consumer, the
envelope kept whole, redelivery, parking with the reason, listing and replaying the parked messages.

Every absence is asserted after a later message on the same queue has been handled."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import ValidationError

from shared import context
from shared.bus import EventBus, InMemoryBus, PoisonMessage
from shared.events import Event, UserUpdated, make_event
from shared.rabbit import RabbitBus
from tests.support import eventually

ATTEMPTS = 3


@pytest.fixture(params=["memory", "rabbitmq"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    if request.param == "memory":
        bus: EventBus = InMemoryBus(max_attempts=ATTEMPTS, retry_delay=0.01)
    else:
        bus = RabbitBus(request.getfixturevalue("servers").rabbitmq_url, max_attempts=ATTEMPTS, retry_delay=0.01)
    await bus.start()
    yield bus
    await bus.close()


class Recorder:
    """A handler that keeps what it is given and fails the first `failures` calls with `error`."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.calls: list[Event] = []
        self.failures = failures
        self.error = error or RuntimeError("downstream is broken")

    async def __call__(self, event: Event) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            raise self.error

    def types(self) -> list[str]:
        return [event.type for event in self.calls]

    def times(self, event: Event) -> int:
        return [e.id for e in self.calls].count(event.id)

    def got(self, event: Event) -> bool:
        return event.id in {e.id for e in self.calls}


def queue_name() -> str:
    return f"contract-{uuid.uuid4().hex[:8]}.events"


def probe(event_type: str, **payload: object) -> Event:
    return Event(type=event_type, producer="contract", payload=payload)


async def test_a_queue_gets_the_types_its_keys_match_with_amqp_wildcards(bus: EventBus):
    one_word, any_words, exact = Recorder(), Recorder(), Recorder()
    await bus.subscribe(queue_name(), ["probe.*"], one_word)
    await bus.subscribe(queue_name(), ["probe.#"], any_words)
    await bus.subscribe(queue_name(), ["probe.a.b", "marker.end"], exact)
    await bus.publish([probe("probe.a"), probe("probe.a.b"), probe("probe"), probe("other.a")])
    end = probe("marker.end")
    await bus.publish([end])
    await eventually(lambda: exact.got(end))
    last = probe("probe.z")
    await bus.publish([last])
    await eventually(lambda: one_word.got(last) and any_words.got(last))

    assert one_word.types() == ["probe.a", "probe.z"]
    assert any_words.types() == ["probe.a", "probe.a.b", "probe", "probe.z"]
    assert exact.types() == ["probe.a.b", "marker.end"]


async def test_every_queue_bound_to_a_type_gets_its_own_copy_and_one_queue_one_copy(bus: EventBus):
    first, second = Recorder(), Recorder()
    await bus.subscribe(queue_name(), ["probe.*", "probe.copy"], first)  # two keys match: still one copy
    await bus.subscribe(queue_name(), ["probe.copy"], second)
    event = probe("probe.copy")
    await bus.publish([event])
    await eventually(lambda: first.got(event) and second.got(event))
    end = probe("probe.end")
    await bus.publish([end])
    await eventually(lambda: first.got(end))
    assert first.times(event) == second.times(event) == 1


async def test_a_queue_hands_its_handler_the_next_message_while_one_is_still_being_handled(bus: EventBus):
    """Up to the prefetch, as a RabbitMQ consumer does: the shared consumer batches what arrives
    together, and a slow message does not hold back the ones behind it."""
    second_arrived, order = asyncio.Event(), []

    async def handler(event: Event) -> None:
        order.append(("start", event.payload["n"]))
        if event.payload["n"] == 1:
            await second_arrived.wait()
        else:
            second_arrived.set()
        order.append(("end", event.payload["n"]))

    await bus.subscribe(queue_name(), ["probe.slow"], handler)
    await bus.publish([probe("probe.slow", n=1), probe("probe.slow", n=2)])
    await eventually(lambda: len(order) == 4)
    assert order == [("start", 1), ("start", 2), ("end", 2), ("end", 1)]


async def test_the_envelope_arrives_whole_with_its_correlation_and_cause(bus: EventBus):
    received = Recorder()
    await bus.subscribe(queue_name(), ["user.updated"], received)
    context.correlation_id.set(f"req-{uuid.uuid4().hex[:6]}")
    context.causation_id.set(uuid.uuid4())
    sent = make_event(UserUpdated(user_id=uuid.uuid4(), changed={"full_name": "Анна", "timezone": None}),
                      producer="user")
    stored = probe("user.updated", note="as the outbox keeps it").model_dump(mode="json")
    await bus.publish([sent])
    await bus.publish_envelopes([stored])
    await eventually(lambda: len(received.calls) == 2)

    assert received.calls[0] == sent
    assert (sent.correlation_id, sent.causation_id) == (context.correlation_id.get(), context.causation_id.get())
    assert received.calls[1].model_dump(mode="json") == stored


async def test_a_failing_handler_is_called_again_until_it_succeeds(bus: EventBus):
    queue, flaky = queue_name(), Recorder(failures=ATTEMPTS - 1)
    await bus.subscribe(queue, ["probe.flaky"], flaky)
    event = probe("probe.flaky")
    await bus.publish([event])
    await eventually(lambda: flaky.times(event) == ATTEMPTS)
    end = probe("probe.flaky")
    await bus.publish([end])
    await eventually(lambda: flaky.got(end))

    assert flaky.times(event) == ATTEMPTS and all(e == event for e in flaky.calls if e.id == event.id)
    assert await bus.dead_letters(queue) == []


async def test_a_handler_that_keeps_failing_is_parked_with_the_reason_after_the_last_attempt(bus: EventBus):
    queue, broken = queue_name(), Recorder(failures=10**6)
    await bus.subscribe(queue, ["probe.broken"], broken)
    event = probe("probe.broken", n=1)
    await bus.publish([event])

    [letter] = await eventually(lambda: bus.dead_letters(queue))
    assert broken.times(event) == ATTEMPTS
    assert letter.event() == event and letter.routing_key == "probe.broken" and letter.attempts == ATTEMPTS
    assert letter.reason == f"failed {ATTEMPTS} times: RuntimeError: downstream is broken"
    assert [d.event() for d in await bus.dead_letters(queue)] == [event]  # listing leaves them parked


def invalid_payload() -> ValidationError:
    try:
        Event.model_validate({"type": "probe.poison"})
    except ValidationError as exc:
        return exc
    raise AssertionError("an envelope without producer and payload was accepted")


@pytest.mark.parametrize("error", [PoisonMessage("unknown schema"), invalid_payload()], ids=["poison", "invalid"])
async def test_a_message_that_can_never_succeed_is_parked_at_once(bus: EventBus, error: Exception):
    queue, poisoned = queue_name(), Recorder(failures=1, error=error)
    await bus.subscribe(queue, ["probe.poison"], poisoned)
    event = probe("probe.poison")
    await bus.publish([event])

    [letter] = await eventually(lambda: bus.dead_letters(queue))
    assert poisoned.times(event) == 1 and letter.attempts == 1
    assert letter.reason.startswith(f"poison: {type(error).__name__}: ")
    assert letter.event() == event


async def test_replay_hands_the_parked_messages_to_the_consumer_again_with_their_routing_key(bus: EventBus):
    queue, handler = queue_name(), Recorder(failures=ATTEMPTS)
    await bus.subscribe(queue, ["probe.replayed"], handler)
    event = probe("probe.replayed")
    await bus.publish([event])
    await eventually(lambda: bus.dead_letters(queue))

    handler.failures = 2 * ATTEMPTS                   # parked a second time after the replay
    assert await bus.replay_dead_letters(queue) == 1
    [again] = await eventually(lambda: bus.dead_letters(queue))
    assert handler.times(event) == 2 * ATTEMPTS
    assert (again.event(), again.routing_key, again.attempts) == (event, "probe.replayed", ATTEMPTS)

    handler.failures = 0
    assert await bus.replay_dead_letters(queue) == 1
    await eventually(lambda: handler.times(event) == 2 * ATTEMPTS + 1)
    assert handler.calls[-1] == event
    assert await bus.dead_letters(queue) == []


async def test_a_queue_nothing_was_parked_in_has_no_dead_letters(bus: EventBus):
    queue = queue_name()
    assert await bus.dead_letters(queue) == []
    assert await bus.replay_dead_letters(queue) == 0
    assert await bus.ping()
