"""RabbitMQ implementation of the bus (aio-pika): durable topic exchange, quorum queues,
publisher confirms, a delivery limit and a dead-letter queue that keeps the failure reason."""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aio_pika
import aiormq
import orjson
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustChannel, AbstractRobustConnection

from shared import metrics, tracing
from shared.bus import DeadLetter, Handler, decide_failure, log_failure, retry_delay
from shared.events import DEAD_LETTER_EXCHANGE, EXCHANGE, Event

log = logging.getLogger(__name__)


# The broker's own delivery limit is a backstop for consumers that die mid-message (a crash
# loop); ordinary failures are parked by the consumer, with the reason, after EVENT_MAX_ATTEMPTS,
# long before it (a failure because the service's database is out of reach after
# shared.bus.AWAY_ATTEMPTS). It is a constant so that instances with other settings declare the same queue.
BROKER_DELIVERY_LIMIT = 20
ORIGINAL_KEY = "x-original-routing-key"    # kept on a parked message, and through its replays
# Replayed messages go through a headers exchange that routes on REPLAY_QUEUE_HEADER (headers
# named x-... are not matched by RabbitMQ), so that they keep their routing key.
REPLAY_EXCHANGE = "repitbot.replay"
REPLAY_QUEUE_HEADER = "replay-queue"
REPLAY_RUN_HEADER = "replay-run"


def queue_arguments(queue: str) -> dict:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": BROKER_DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": queue,
    }


class RabbitBus:
    def __init__(self, url: str, *, max_attempts: int = 5, prefetch: int = 64,
                 retry_delay: float = 0.1) -> None:
        self._url = url
        self.max_attempts = max_attempts
        self._prefetch = prefetch
        self._retry_delay = retry_delay
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None

    async def start(self) -> None:
        if self._connection:
            return
        self._connection = await aio_pika.connect_robust(self._url, client_properties={
            "connection_name": "repitbot"})
        self._publish_channel = await self._connection.channel(publisher_confirms=True)
        await self._declare_exchanges(self._publish_channel)

    async def _declare_exchanges(self, channel: AbstractRobustChannel):
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT,
                                             durable=True)
        return exchange, dlx

    async def ping(self) -> bool:
        """Connected now (a robust connection that is reconnecting is not closed, but not connected)."""
        connection = self._connection
        return bool(connection and not connection.is_closed and connection.connected.is_set())

    async def close(self) -> None:
        if self._connection:
            await self._connection.close()
            self._connection = None

    async def publish(self, events: Sequence[Event]) -> None:
        await self.publish_envelopes([event.model_dump(mode="json") for event in events])

    async def publish_envelopes(self, envelopes: Sequence[dict[str, Any]]) -> None:
        """Publish with confirms, all in flight at once; returns when the broker has confirmed
        every one (raises if it refused one).

        Straight on the channel below aio-pika's `Exchange`, whose `Message` object costs more than
        the frames themselves, and without waiting for each frame to reach the socket before the
        next is queued (`wait=False`: the channel's lock is otherwise held across a turn of the
        event loop per message, so a busy consumer in the same process slowed the relay to a
        crawl). Frames keep their order; the confirms are what says the broker has them.
        Not mandatory: an event nobody subscribes to yet is dropped by the broker, not returned."""
        await self.start()
        assert self._publish_channel is not None
        if self._publish_channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError("the publishing channel is closed")
        channel = await self._publish_channel.get_underlay_channel()
        await asyncio.gather(*(channel.basic_publish(orjson.dumps(e), exchange=EXCHANGE, routing_key=e["type"],
                                                     properties=_properties(e), wait=False) for e in envelopes))

    async def subscribe(self, queue: str, routing_keys: Sequence[str], handler: Handler) -> None:
        await self.start()
        assert self._connection is not None
        channel = await self._connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange, dlx = await self._declare_exchanges(channel)
        main = await self._declare_queues(channel, queue, dlx)
        for key in routing_keys:
            await main.bind(exchange, routing_key=key)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._handle(message, queue, handler, dlx)

        await main.consume(on_message)

    async def _declare_queues(self, channel: AbstractRobustChannel, queue: str, dlx):
        parked = await channel.declare_queue(f"{queue}.dlq", durable=True,
                                             arguments={"x-queue-type": "quorum"})
        await parked.bind(dlx, routing_key=queue)
        return await channel.declare_queue(queue, durable=True,
                                           arguments=queue_arguments(queue))

    async def _handle(self, message: AbstractIncomingMessage, queue: str, handler: Handler,
                      dlx) -> None:
        attempt = int((message.headers or {}).get("x-delivery-count") or 0) + 1
        try:
            await handler(Event.model_validate_json(message.body))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # boundary: the consumer loop
            reason = decide_failure(exc, attempt, self.max_attempts)
            log_failure(queue, message.body, message.routing_key or "", attempt, reason, exc)
            if reason is None:
                await asyncio.sleep(retry_delay(exc, attempt, self._retry_delay))
                await message.nack(requeue=True)
                return
            await dlx.publish(_parked(message, reason, attempt), routing_key=queue)
            metrics.EVENTS_DEAD_LETTERED.labels(queue.split(".")[0], message.type or "").inc()
        await message.ack()

    async def dead_letters(self, queue: str) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        await self.start()
        assert self._connection is not None
        async with self._connection.channel() as channel:
            if (parked := await _parking_of(channel, queue)) is None:
                return letters
            while (message := await parked.get(no_ack=False, fail=False)) is not None:
                letters.append(_dead_letter(message))
            # closing the channel returns every fetched message to the queue, in order
        return letters

    async def replay_dead_letters(self, queue: str, *, run: str | None = None) -> int:
        """Move the messages parked when this starts back to `queue`, each exactly once.

        A replayed message keeps its routing key and its own headers: it goes through the
        `REPLAY_EXCHANGE` headers exchange, where `queue` alone is bound for it (so no other
        service gets it again). Every replayed message is tagged with this replay's `run`
        (`REPLAY_RUN_HEADER`): one that fails again and comes back to the head of the queue while
        this runs stops it and stays parked, so the replay ends and never takes a message twice;
        `parked_again` counts them."""
        await self.start()
        assert self._connection is not None
        run = run or uuid.uuid4().hex
        count = 0
        async with self._connection.channel(publisher_confirms=True) as channel:
            if (parked := await _parking_of(channel, queue)) is None:
                return count
            replay = await channel.declare_exchange(REPLAY_EXCHANGE, aio_pika.ExchangeType.HEADERS, durable=True)
            target = await channel.declare_queue(queue, passive=True)
            await target.bind(replay, arguments={"x-match": "all", REPLAY_QUEUE_HEADER: queue})
            while (message := await parked.get(no_ack=False, fail=False)) is not None:
                if (message.headers or {}).get(REPLAY_RUN_HEADER) == run:
                    await message.nack(requeue=True)    # replayed by this run and parked again
                    break
                letter = _dead_letter(message)
                await replay.publish(_replayed(message, queue, run), routing_key=letter.routing_key)
                await message.ack()
                count += 1
        return count

    async def parked_again(self, queue: str, run: str) -> int:
        """How many messages of replay `run` are parked in `queue`'s DLQ now."""
        return sum(1 for letter in await self.dead_letters(queue) if letter.headers.get(REPLAY_RUN_HEADER) == run)

    async def queue_depth(self, queue: str) -> int:
        """Messages ready in `queue` (not those a consumer holds)."""
        await self.start()
        assert self._connection is not None
        async with self._connection.channel() as channel:
            declared = await channel.declare_queue(queue, passive=True)
            return declared.declaration_result.message_count or 0


def _replayed(message: AbstractIncomingMessage, queue: str, run: str | None) -> aio_pika.Message:
    """The parked message as it was first published, addressed to `queue` alone."""
    headers = {k: v for k, v in (message.headers or {}).items()
               if not k.startswith("x-") and k not in (REPLAY_QUEUE_HEADER, REPLAY_RUN_HEADER)}
    headers[REPLAY_QUEUE_HEADER] = queue
    if run:
        headers[REPLAY_RUN_HEADER] = run
    return aio_pika.Message(message.body, headers=headers, message_id=message.message_id,
                            correlation_id=message.correlation_id, type=message.type,
                            content_type=message.content_type, timestamp=message.timestamp,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


async def _parking_of(channel: AbstractRobustChannel, queue: str) -> AbstractQueue | None:
    """The dead-letter queue of `queue`, or None when none was declared (nothing was ever parked)."""
    try:
        return await channel.get_queue(f"{queue}.dlq", ensure=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return None


def _properties(envelope: dict[str, Any]) -> aiormq.spec.Basic.Properties:
    """The AMQP properties of an envelope (as `Event.model_dump(mode="json")` gives it)."""
    return aiormq.spec.Basic.Properties(
        message_id=envelope["id"],
        correlation_id=envelope.get("correlation_id"),
        message_type=envelope["type"],
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT.value,
        timestamp=datetime.fromisoformat(envelope["occurred_at"]),
        headers={"causation_id": envelope.get("causation_id"),
                 **{key: envelope[key] for key in tracing.FIELDS if envelope.get(key)}},
    )


def _parked(message: AbstractIncomingMessage, reason: str, attempts: int) -> aio_pika.Message:
    headers = dict(message.headers or {})
    # a replayed message comes back through the default exchange, under the queue's name
    headers.update({"x-park-reason": reason, "x-park-attempts": attempts,
                    ORIGINAL_KEY: headers.get(ORIGINAL_KEY) or message.routing_key})
    return aio_pika.Message(message.body, headers=headers, message_id=message.message_id,
                            correlation_id=message.correlation_id, type=message.type,
                            content_type=message.content_type,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT)


def _dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    reason = headers.get("x-park-reason")
    if reason is None and headers.get("x-death"):
        reason = f"broker: {headers['x-death'][0].get('reason')}"
    return DeadLetter(body=message.body, reason=str(reason or "unknown"),
                      routing_key=str(headers.get(ORIGINAL_KEY) or message.type or ""),
                      attempts=int(headers.get("x-park-attempts") or 0), headers=dict(headers))
