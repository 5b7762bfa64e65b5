"""The event bus: a tiny interface, a RabbitMQ implementation and an in-memory one.

Both give the same semantics: a topic exchange, one queue per consuming service bound to the
event types it handles, at-least-once delivery, a bounded number of attempts per message and a
dead-letter queue (`<queue>.dlq`) that keeps the reason, from which messages can be replayed.
tests/integration/shared/test_bus_contract.py runs the same tests against both.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from shared import metrics
from shared.errors import dependency_away
from shared.events import Event, log_fields

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]


class PoisonMessage(Exception):
    """A message that can never succeed: park it at once instead of retrying."""


@dataclass
class DeadLetter:
    body: bytes
    reason: str
    routing_key: str
    attempts: int
    headers: dict[str, Any] = field(default_factory=dict)   # the message's own (RabbitMQ)

    def event(self) -> Event | None:
        try:
            return Event.model_validate_json(self.body)
        except ValidationError:
            return None


class EventBus(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, events: Sequence[Event]) -> None: ...
    async def publish_envelopes(self, envelopes: Sequence[dict[str, Any]]) -> None:
        """Publish events as stored (`Event.model_dump(mode="json")`), without validating them again."""
    async def subscribe(self, queue: str, routing_keys: Sequence[str], handler: Handler) -> None: ...
    async def dead_letters(self, queue: str) -> list[DeadLetter]: ...
    async def replay_dead_letters(self, queue: str) -> int: ...
    async def ping(self) -> bool: ...


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: `*` is exactly one word, `#` is zero or more words."""
    words, parts = key.split("."), pattern.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(parts):
            return j == len(words)
        if parts[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(words) + 1))
        return j < len(words) and parts[i] in ("*", words[j]) and match(i + 1, j + 1)

    return match(0, 0)


def log_failure(queue: str, body: bytes, key: str, attempt: int, reason: str | None, exc: BaseException) -> None:
    """The line of a delivery that failed: retried, or parked with the reason."""
    try:
        fields = log_fields(orjson.loads(body))
    except (orjson.JSONDecodeError, KeyError, TypeError):
        fields = {"event_type": key, "event_id": None}
    fields.update(service=queue.split(".")[0], consumer=queue.split(".")[0], queue=queue, attempt=attempt)
    if reason is None:
        log.warning("retrying %s %s (attempt %d): %s: %s", fields["event_type"], fields["event_id"], attempt,
                    type(exc).__name__, exc, extra={**fields, "outcome": "retried"})
    else:
        log.error("parked %s %s on %s.dlq: %s", fields["event_type"], fields["event_id"], queue, reason,
                  extra={**fields, "outcome": "parked", "reason": reason})


# A dependency out of reach (the service's database restarting, say) is waited for longer than
# an ordinary failure is retried: up to AWAY_ATTEMPTS deliveries, the delay doubling up to
# MAX_AWAY_DELAY (about a minute in all with the default delay), below the broker's own delivery
# limit (shared.rabbit.BROKER_DELIVERY_LIMIT). Parked sooner, every event that arrived during a
# database restart would wait in the DLQ for someone to replay it.
AWAY_ATTEMPTS = 18
MAX_AWAY_DELAY = 5.0


def decide_failure(exc: BaseException, attempt: int, max_attempts: int) -> str | None:
    """None to retry, or the reason to park the message with."""
    if isinstance(exc, (PoisonMessage, ValidationError)):
        return f"poison: {type(exc).__name__}: {exc}"[:1000]
    if attempt >= (max(max_attempts, AWAY_ATTEMPTS) if dependency_away(exc) else max_attempts):
        return f"failed {attempt} times: {type(exc).__name__}: {exc}"[:1000]
    return None


def retry_delay(exc: BaseException, attempt: int, base: float) -> float:
    """How long a failed message waits before it is handed back: longer and longer while a
    dependency is out of reach, a little longer each time otherwise."""
    if dependency_away(exc):
        return min(base * 2 ** attempt, MAX_AWAY_DELAY)
    return base * attempt


@dataclass
class _MemoryQueue:
    name: str
    keys: list[str]
    handler: Handler
    inbox: asyncio.Queue = field(default_factory=asyncio.Queue)
    in_flight: int = 0
    task: asyncio.Task | None = None
    handling: set[asyncio.Task] = field(default_factory=set)


class InMemoryBus:
    """In-process bus with the topic semantics of RabbitMQ; for the embedded mode and unit tests.
    Like a RabbitMQ consumer, a queue hands up to `prefetch` messages to its handler at once."""

    def __init__(self, *, max_attempts: int = 5, retry_delay: float = 0.05, prefetch: int = 64) -> None:
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.prefetch = prefetch
        self._queues: dict[str, _MemoryQueue] = {}
        self._dead: dict[str, list[DeadLetter]] = defaultdict(list)
        self.published: list[Event] = []

    async def start(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        for queue in self._queues.values():
            for task in [queue.task, *queue.handling]:
                if task:
                    task.cancel()
        self._queues.clear()

    async def publish(self, events: Sequence[Event]) -> None:
        for event in events:
            self.published.append(event)
            body = event.model_dump_json().encode()
            for queue in self._queues.values():
                if any(topic_matches(k, event.type) for k in queue.keys):
                    queue.inbox.put_nowait((body, event.type, 1))

    async def publish_envelopes(self, envelopes: Sequence[dict[str, Any]]) -> None:
        await self.publish([Event.model_validate(envelope) for envelope in envelopes])

    async def subscribe(self, queue: str, routing_keys: Sequence[str], handler: Handler) -> None:
        if queue in self._queues:
            raise RuntimeError(f"queue {queue} already has a consumer in this process")
        q = _MemoryQueue(queue, list(routing_keys), handler)
        q.task = asyncio.create_task(self._consume(q), name=f"consume:{queue}")
        self._queues[queue] = q

    async def _consume(self, q: _MemoryQueue) -> None:
        slots = asyncio.Semaphore(self.prefetch)
        while True:
            await slots.acquire()
            body, key, attempt = await q.inbox.get()
            q.in_flight += 1
            task = asyncio.create_task(self._handle(q, body, key, attempt))
            q.handling.add(task)
            task.add_done_callback(q.handling.discard)
            task.add_done_callback(lambda _task: slots.release())

    async def _handle(self, q: _MemoryQueue, body: bytes, key: str, attempt: int) -> None:
        try:
            await q.handler(Event.model_validate_json(body))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # boundary: the consumer loop
            reason = decide_failure(exc, attempt, self.max_attempts)
            log_failure(q.name, body, key, attempt, reason, exc)
            if reason:
                self._dead[q.name].append(DeadLetter(body, reason, key, attempt))
                metrics.EVENTS_DEAD_LETTERED.labels(q.name.split(".")[0], key).inc()
            else:
                await asyncio.sleep(retry_delay(exc, attempt, self.retry_delay))
                q.inbox.put_nowait((body, key, attempt + 1))
        finally:
            q.in_flight -= 1

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        return list(self._dead[queue])

    async def replay_dead_letters(self, queue: str) -> int:
        parked, self._dead[queue] = self._dead[queue], []
        for letter in parked:
            self._queues[queue].inbox.put_nowait((letter.body, letter.routing_key, 1))
        return len(parked)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queue is empty (tests and seeding)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(q.inbox.qsize() or q.in_flight for q in self._queues.values()):
            if loop.time() > deadline:
                raise TimeoutError("bus did not drain")
            await asyncio.sleep(0.01)


__all__ = [
    "DeadLetter",
    "EventBus",
    "Handler",
    "InMemoryBus",
    "PoisonMessage",
    "decide_failure",
    "retry_delay",
    "topic_matches",
]
