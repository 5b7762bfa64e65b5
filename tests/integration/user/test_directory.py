"""The internal route other services ask about links on a read-model miss."""
from __future__ import annotations

import uuid

from services.user import links
from shared.people import LinkAnswer, link_path


async def test_the_directory_says_whether_a_teacher_or_parent_is_linked_and_since_when(service):
    teacher, student = await service.account("teacher"), await service.account("student")
    teacher_id, student_id = uuid.UUID(teacher.id), uuid.UUID(student.id)
    await links.link_teacher(service.app.state.uow_factory(), teacher_id, student_id)
    linked = await service.client.get(link_path("teacher", teacher_id, student_id))
    reversed_ = await service.client.get(link_path("teacher", student_id, teacher_id))
    as_parent = await service.client.get(link_path("parent", teacher_id, student_id))
    assert [r.status_code for r in (linked, reversed_, as_parent)] == [200, 200, 200]
    assert LinkAnswer.model_validate(linked.json()).linked_at is not None
    assert [r.json()["linked"] for r in (linked, reversed_, as_parent)] == [True, False, False]


async def test_a_malformed_question_is_a_422_problem(service):
    someone = uuid.uuid4()
    bad_kind = await service.client.get(f"/internal/people/links/friend/{someone}/{someone}")
    bad_id = await service.client.get(f"/internal/people/links/teacher/12/{someone}")
    assert [r.status_code for r in (bad_kind, bad_id)] == [422, 422]
    assert bad_kind.headers["content-type"].startswith("application/problem+json")
