"""A link the lesson service has not heard of yet is asked of the user service, and stored."""
from __future__ import annotations

from prometheus_client import REGISTRY

from services.lesson.models import TeacherLink
from tests.integration.lesson.world import tomorrow_at
from tests.mesh import free_port


def lookups(answer: str) -> float:
    labels = {"service": "lesson", "kind": "teacher", "answer": answer}
    return REGISTRY.get_sample_value("repitbot_people_lookups_total", labels) or 0.0


async def test_a_link_is_usable_as_soon_as_the_user_service_made_it_and_then_known_here(world, users):
    teacher, student = await users.account(world, "teacher"), await users.account(world, "student")
    await users.link(teacher, student)   # its event stays with the user service: only asking tells
    before = lookups("linked")
    first = await world.book(teacher, student, tomorrow_at(9))
    stored = await world.wait_for(TeacherLink, teacher_id=teacher.id, student_id=student.id)
    second = await world.book(teacher, student, tomorrow_at(11))
    assert (first.status_code, second.status_code) == (201, 201), first.text
    assert lookups("linked") == before + 1   # the second booking found the stored link
    assert stored.linked_at is not None


async def test_a_student_the_user_service_does_not_link_is_422_every_time(world, users):
    teacher, student = await users.account(world, "teacher"), await users.account(world, "student")
    before = lookups("not_linked")
    answers = [await world.book(teacher, student, tomorrow_at(hour)) for hour in (9, 10)]
    assert [a.status_code for a in answers] == [422, 422]
    assert answers[0].json()["errors"][0]["loc"] == ["body", "student_id"]
    assert lookups("not_linked") == before + 2   # "not linked" is not stored: a link may come any moment


async def test_a_miss_while_the_user_service_is_unreachable_is_503_with_retry_after(world):
    world.app.state.settings.service_urls = {"user": [f"http://127.0.0.1:{free_port()}"]}
    teacher, student = world.person("teacher"), world.person("student")
    answer = await world.book(teacher, student, tomorrow_at(9))
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert answer.headers["content-type"].startswith("application/problem+json")
