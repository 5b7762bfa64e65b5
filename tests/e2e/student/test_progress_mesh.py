"""The same flow in mesh mode, on the shared mesh: the services and a gateway as processes on the
real PostgreSQL, RabbitMQ and Redis; `achievement.earned` is watched on the real exchange."""
import json
import uuid

import aio_pika
import httpx

from shared.events import EXCHANGE
from tests.e2e.conftest import link, register_and_login
from tests.e2e.student.flow import assert_progress_shown, complete_a_lesson
from tests.support import eventually


async def test_a_completed_lesson_through_the_gateway_earns_first_step_on_rabbitmq(shared_mesh):
    connection = await aio_pika.connect_robust(shared_mesh.servers.rabbitmq_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"e2e-student-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True)
    await queue.bind(exchange, routing_key="achievement.earned")
    earned: list[dict] = []

    async def keep(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        earned.append(json.loads(message.body))

    await queue.consume(keep)
    try:
        async with shared_mesh.client() as client:
            await the_flow(client, earned)
    finally:
        await connection.close()


async def the_flow(client: httpx.AsyncClient, earned: list[dict]) -> None:
    teacher = await register_and_login(client, "teacher", full_name="Anna Teacher")
    student = await register_and_login(client, "student", full_name="Ivan Student")
    await link(client, teacher, student)

    async def linked_everywhere() -> bool:  # the lesson and student services learn of the link from events
        board = await client.get("/api/v1/leaderboards", params={"scope": "teacher"}, headers=student.headers)
        return board.status_code == 200
    await eventually(linked_everywhere, timeout=20)
    completed = await eventually(lambda: _completed(client, teacher.headers, student.id), timeout=20)
    correlation_id = completed.headers["x-correlation-id"]

    async def first_step() -> dict | None:
        return next((e for e in earned if e["payload"]["student_id"] == student.id), None)
    event = await eventually(first_step, timeout=30)
    assert (event["payload"]["code"], event["correlation_id"]) == ("first_step", correlation_id)
    await eventually(lambda: _shown(client, student.headers, student.id), timeout=10)


async def _completed(client: httpx.AsyncClient, headers: dict[str, str], student_id: str) -> httpx.Response | None:
    try:
        return await complete_a_lesson(client, headers, student_id, score=90)
    except AssertionError:  # the lesson service has not seen the link yet: 422
        return None


async def _shown(client: httpx.AsyncClient, headers: dict[str, str], student_id: str) -> bool:
    await assert_progress_shown(client, headers, student_id, xp=100 + 90 + 50)
    return True
