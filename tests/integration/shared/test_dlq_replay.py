"""`repitbot dlq replay|list` on real RabbitMQ, with poison messages that fail every time."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest

from repitbot.dlq import replay
from shared.bus import PoisonMessage
from shared.events import Event, UserCreated, UserUpdated, make_event
from shared.rabbit import RabbitBus
from tests.support import eventually


@pytest.fixture
async def bus(servers):
    bus = RabbitBus(servers.rabbitmq_url, max_attempts=2, retry_delay=0.01)
    await bus.start()
    yield bus
    await bus.close()


async def test_replay_moves_each_parked_message_once_keeps_its_routing_key_and_terminates(bus, servers):
    queue = f"replay-{uuid.uuid4().hex[:8]}.events"
    healthy = False
    handled: list[Event] = []

    async def handler(event: Event) -> None:
        if event.type == "user.updated":
            raise PoisonMessage("this payload can never be applied")
        if not healthy:
            raise RuntimeError("downstream is broken\nsecond line of the reason")
        handled.append(event)

    await bus.subscribe(queue, ["user.created", "user.updated"], handler)
    poison = [make_event(UserUpdated(user_id=uuid.uuid4(), changed={"n": i}), producer="user") for i in range(3)]
    good = make_event(UserCreated(user_id=uuid.uuid4(), role="student", full_name="Anna",
                                  email="anna@example.org"), producer="user")
    await bus.publish([*poison, good])
    await eventually(lambda: _count(bus.dead_letters(queue), 4))

    healthy = True
    first = await replay(bus, queue, wait=60)
    second = await replay(bus, queue, wait=60)          # the poison ones again: it still ends
    letters = await bus.dead_letters(queue)
    listing = await _cli(servers, "dlq", "list", "user", "--queue", queue)
    whole = json.loads(await _cli(servers, "dlq", "list", "user", "--queue", queue, "--json"))

    assert (first.moved, first.parked_again, first.settled) == (4, 3, True)
    assert (second.moved, second.parked_again, second.settled) == (3, 3, True)
    assert [e.id for e in handled] == [good.id]                       # exactly once
    assert sorted(str(letter.event().id) for letter in letters) == sorted(str(e.id) for e in poison)
    assert {letter.routing_key for letter in letters} == {"user.updated"}   # not the queue's name
    assert all("causation_id" in letter.headers and "replay-run" in letter.headers for letter in letters)
    lines = listing.strip().splitlines()
    assert len(lines) == 4 and lines[-1] == f"3 parked message(s) in {queue}.dlq"
    assert all(line.startswith("user.updated ") and "attempts=1" in line and "poison" in line for line in lines[:3])
    assert [entry["type"] for entry in whole] == ["user.updated"] * 3
    assert {entry["id"] for entry in whole} == {str(e.id) for e in poison}
    assert all(entry["routing_key"] == "user.updated" and "n" in entry["body"]["payload"]["changed"] for entry in whole)


async def test_replay_says_how_many_went_back_and_how_many_were_parked_again(bus, servers):
    queue = f"replay-{uuid.uuid4().hex[:8]}.events"

    async def handler(event: Event) -> None:
        raise PoisonMessage("never")

    await bus.subscribe(queue, ["user.updated"], handler)
    await bus.publish([make_event(UserUpdated(user_id=uuid.uuid4(), changed={}), producer="user")])
    await eventually(lambda: _count(bus.dead_letters(queue), 1))
    output = await _cli(servers, "dlq", "replay", "user", "--queue", queue, "--wait", "60")
    assert output.strip() == f"replayed 1 message(s) to {queue}: 0 not parked again, 1 parked again"


async def _count(letters, expected: int) -> bool:
    return len(await letters) == expected


async def _cli(servers, *args: str) -> str:
    """The command in a thread: this test's consumer keeps running meanwhile."""
    env = {**os.environ, **servers.env(), "REPITBOT_MODE": "mesh", "LOG_JSON": "false"}
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "repitbot.cli", *args], env=env,
                                     capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout
