import asyncio
import uuid

import pytest

from shared.bus import InMemoryBus, PoisonMessage, topic_matches
from shared.events import Event, UserCreated, make_event


@pytest.mark.parametrize(("pattern", "key", "expected"), [
    ("lesson.completed", "lesson.completed", True),
    ("lesson.*", "lesson.completed", True),
    ("lesson.*", "lesson.completed.late", False),
    ("lesson.#", "lesson", True),
    ("lesson.#", "lesson.a.b", True),
    ("#", "anything.at.all", True),
    ("*.completed", "lesson.completed", True),
    ("*.completed", "completed", False),
    ("#.created", "user.created", True),
    ("user.created", "user.updated", False),
])
def test_topic_matching_follows_amqp_rules(pattern, key, expected):
    assert topic_matches(pattern, key) is expected


def _user_created() -> Event:
    return make_event(UserCreated(user_id=uuid.uuid4(), role="student", full_name="A", email="a@x.io"),
                      producer="user")


async def test_events_reach_only_queues_bound_to_their_type():
    bus = InMemoryBus()
    got: dict[str, list[str]] = {"a": [], "b": []}

    async def on_a(event: Event) -> None:
        got["a"].append(event.type)

    async def on_b(event: Event) -> None:
        got["b"].append(event.type)

    await bus.subscribe("a.events", ["user.*"], on_a)
    await bus.subscribe("b.events", ["lesson.completed"], on_b)
    await bus.publish([_user_created()])
    await bus.drain()
    assert got == {"a": ["user.created"], "b": []}
    await bus.close()


async def test_a_failing_handler_is_retried_then_parked_with_the_reason_and_can_be_replayed():
    bus = InMemoryBus(max_attempts=3, retry_delay=0)
    attempts = 0
    healthy = False

    async def handler(event: Event) -> None:
        nonlocal attempts
        attempts += 1
        if not healthy:
            raise RuntimeError("database is down")

    await bus.subscribe("s.events", ["#"], handler)
    await bus.publish([_user_created()])
    await bus.drain()
    parked = await bus.dead_letters("s.events")
    assert attempts == 3
    assert len(parked) == 1 and "database is down" in parked[0].reason and parked[0].attempts == 3

    healthy = True
    assert await bus.replay_dead_letters("s.events") == 1
    await bus.drain()
    assert attempts == 4
    assert await bus.dead_letters("s.events") == []
    await bus.close()


async def test_a_poison_message_is_parked_without_retries():
    bus = InMemoryBus(max_attempts=5, retry_delay=0)
    calls = 0

    async def handler(event: Event) -> None:
        nonlocal calls
        calls += 1
        raise PoisonMessage("cannot ever work")

    await bus.subscribe("s.events", ["#"], handler)
    await bus.publish([_user_created()])
    await bus.drain()
    assert calls == 1
    assert (await bus.dead_letters("s.events"))[0].reason.startswith("poison")
    await bus.close()


async def test_publish_does_not_run_handlers_inline():
    bus = InMemoryBus()
    seen = asyncio.Event()

    async def handler(event: Event) -> None:
        seen.set()

    await bus.subscribe("s.events", ["#"], handler)
    await bus.publish([_user_created()])
    assert not seen.is_set()
    await bus.drain()
    assert seen.is_set()
    await bus.close()
