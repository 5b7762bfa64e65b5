"""A link is usable the moment `accept` returned, in mesh mode on the real servers: the lesson
service has not heard `user.teacher_linked` (the event is held back from its queue), so it asks
the user service, through the internal route the gateway does not expose."""
import contextlib
from collections.abc import AsyncIterator

import aio_pika
import httpx

from shared.events import EXCHANGE
from tests.e2e.conftest import link, register_and_login
from tests.e2e.lesson.test_lesson_flow import book, in_days
from tests.mesh import Mesh


@contextlib.asynccontextmanager
async def held_back(amqp_url: str, queue: str, routing_key: str) -> AsyncIterator[None]:
    """Events of `routing_key` do not reach `queue` while the block runs."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(EXCHANGE)
        bound = await channel.get_queue(queue)
        await bound.unbind(exchange, routing_key)
        try:
            yield
        finally:
            await bound.bind(exchange, routing_key)
    finally:
        await connection.close()


def lookups(metrics: str, answer: str) -> float:
    prefix = "repitbot_people_lookups_total{"
    for line in metrics.splitlines():
        if line.startswith(prefix) and f'answer="{answer}"' in line and 'service="lesson"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_scheduling_right_after_linking_is_201_with_the_link_event_held_back(servers):
    with Mesh(servers) as mesh:
        user, lesson = mesh.start_services("user", "lesson")
        gateway = mesh.start_gateway(env={"RATE_LIMIT_PER_MINUTE": "1000"})
        async with held_back(servers.rabbitmq_url, "lesson.events", "user.teacher_linked"), \
                httpx.AsyncClient(base_url=gateway.url, timeout=30.0, trust_env=False) as client:
            teacher = await register_and_login(client, "teacher")
            student, stranger, latecomer = [await register_and_login(client, "student") for _ in range(3)]
            await link(client, teacher, student)
            booked = await book(client, teacher, student.id, in_days(2, 9))
            refused = await book(client, teacher, stranger.id, in_days(2, 11))
            internal = await client.get(f"/internal/people/links/teacher/{teacher.id}/{student.id}",
                                        headers=teacher.headers)
            await link(client, teacher, latecomer)
            mesh.stop("user")
            unavailable = await book(client, teacher, latecomer.id, in_days(2, 13))
            metrics = httpx.get(lesson.url + "/metrics", trust_env=False).text

    assert booked.status_code == 201, booked.text
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["body", "student_id"]
    assert (lookups(metrics, "linked"), lookups(metrics, "not_linked")) == (1.0, 1.0)
    assert internal.status_code == 404   # the gateway does not route the internal path
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "2"
    assert unavailable.headers["content-type"].startswith("application/problem+json")
    assert user.running is False
