"""`repitbot dlq list|replay`: the messages a service's consumer parked, and another round for them."""
from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from shared.bus import DeadLetter
from shared.rabbit import RabbitBus
from shared.settings import Settings

POLL_SECONDS = 0.2
SETTLE_SECONDS = 2.0     # the queue empty and nothing newly parked this long: the round is over


def one_line(letter: DeadLetter) -> str:
    """type, id, attempts and the reason's first line, for `dlq list`."""
    event = letter.event()
    ident = f"{event.type} {event.id}" if event else f"{letter.routing_key or '?'} (not an event)"
    reason = letter.reason.strip().splitlines()[0][:200] if letter.reason.strip() else "unknown"
    return f"{ident}  attempts={letter.attempts}  reason={reason}"


def as_json(letter: DeadLetter) -> dict[str, Any]:
    event = letter.event()
    try:
        body: Any = json.loads(letter.body)
    except ValueError:
        body = {"base64": base64.b64encode(letter.body).decode()}
    return {"type": event.type if event else None, "id": str(event.id) if event else None,
            "routing_key": letter.routing_key, "attempts": letter.attempts, "reason": letter.reason,
            "headers": {k: _plain(v) for k, v in letter.headers.items()}, "body": body}


def _plain(value: Any) -> Any:
    """AMQP header values (bytes, datetimes, nested tables) as JSON values."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


async def list_command(settings: Settings, queue: str, *, as_json_lines: bool = False) -> None:
    bus = RabbitBus(settings.amqp_url())
    try:
        letters = await bus.dead_letters(queue)
    finally:
        await bus.close()
    if as_json_lines:
        print(json.dumps([as_json(letter) for letter in letters], indent=2))
        return
    for letter in letters:
        print(one_line(letter))
    print(f"{len(letters)} parked message(s) in {queue}.dlq")


@dataclass(frozen=True)
class ReplayReport:
    moved: int
    parked_again: int
    settled: bool        # False: `wait` ran out while replayed messages were still being tried

    def line(self, queue: str) -> str:
        outcome = "" if self.settled else " so far (still being tried when the wait ran out)"
        return (f"replayed {self.moved} message(s) to {queue}: {self.moved - self.parked_again} not parked again, "
                f"{self.parked_again} parked again{outcome}")


async def replay(bus: RabbitBus, queue: str, *, wait: float) -> ReplayReport:
    """Replay what is parked now, then wait (at most `wait` s) to see how many are parked again."""
    run = uuid.uuid4().hex
    moved = await bus.replay_dead_letters(queue, run=run)
    deadline = time.monotonic() + wait
    quiet_since, parked = time.monotonic(), 0
    while moved and time.monotonic() < deadline:
        now_parked = await bus.parked_again(queue, run)
        if now_parked == moved:
            return ReplayReport(moved, now_parked, True)
        if now_parked != parked or await bus.queue_depth(queue):
            quiet_since, parked = time.monotonic(), now_parked
        elif time.monotonic() - quiet_since >= SETTLE_SECONDS:
            return ReplayReport(moved, now_parked, True)
        await asyncio.sleep(POLL_SECONDS)
    return ReplayReport(moved, await bus.parked_again(queue, run) if moved else 0, not moved)


async def replay_command(settings: Settings, queue: str, *, wait: float) -> None:
    bus = RabbitBus(settings.amqp_url())
    try:
        report = await replay(bus, queue, wait=wait)
    finally:
        await bus.close()
    print(report.line(queue))
