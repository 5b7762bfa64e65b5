"""The homework service in-process on the suite's real PostgreSQL, RabbitMQ and Redis: a grade
and a resubmission racing on one homework, and what each side then finds."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, text

from services.homework.app import create_app
from services.homework.models import Grade, Homework, HomeworkFile, Submission, TeacherLink
from services.homework.settings import HomeworkSettings
from shared.events import TeacherLinked, make_event
from shared.rabbit import RabbitBus
from tests.support import Person, TestKeys, eventually, mesh_runtime, running

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n"


@pytest.fixture
async def world(servers, fresh_database, tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, object, TestKeys]]:
    keys = TestKeys()
    settings = HomeworkSettings(mode="mesh", environment="test", var_dir=tmp_path,
                                database_url=fresh_database("homework_"),
                                redis_url=servers.redis_url, rabbitmq_url=servers.rabbitmq_url)
    runtime = mesh_runtime(servers, keys)
    app = create_app(settings, runtime)
    try:
        async with running(app) as client:
            yield client, app, keys
    finally:
        await runtime.close()


async def linked_pair(servers, app, keys: TestKeys) -> tuple[Person, Person]:
    teacher_id, student_id = uuid.uuid4(), uuid.uuid4()
    bus = RabbitBus(servers.rabbitmq_url)
    try:
        await bus.publish([make_event(TeacherLinked(teacher_id=teacher_id, student_id=student_id), producer="user")])
    finally:
        await bus.close()

    async def linked() -> object:
        async with app.state.session_factory() as session:
            return await session.scalar(select(TeacherLink).filter_by(teacher_id=teacher_id, student_id=student_id))
    await eventually(linked)
    return (Person(teacher_id, "teacher", keys.headers(teacher_id, "teacher")),
            Person(student_id, "student", keys.headers(student_id, "student")))


async def submitted_homework(client: httpx.AsyncClient, teacher: Person, student: Person) -> tuple[str, str]:
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    created = await client.post("/api/v1/homework", headers=teacher.headers, json={
        "student_id": str(student.id), "title": "Race", "due_at": due})
    assert created.status_code == 201, created.text
    homework_id = created.json()["id"]
    first = await client.post(f"/api/v1/homework/{homework_id}/submissions", headers=student.headers,
                              files=[("files", ("first.pdf", PDF))])
    assert first.status_code == 201, first.text
    return homework_id, first.json()["submissions"][0]["id"]


async def test_a_grade_and_a_resubmission_racing_end_with_one_winner_and_a_consistent_state(servers, world):
    client, app, keys = world
    teacher, student = await linked_pair(servers, app, keys)
    outcomes = set()
    for round_ in range(6):
        homework_id, seen = await submitted_homework(client, teacher, student)
        grade = client.post(f"/api/v1/homework/{homework_id}/grade", headers=teacher.headers,
                            json={"score": 90, "submission_id": seen})
        resubmit = client.post(f"/api/v1/homework/{homework_id}/submissions", headers=student.headers,
                               files=[("files", (f"second-{round_}.pdf", PDF + bytes([round_])))])
        graded, resubmitted = await asyncio.gather(grade, resubmit)

        assert sorted([graded.status_code, resubmitted.status_code]) in ([200, 409], [201, 409]), (
            graded.text, resubmitted.text)
        loser = graded if graded.status_code == 409 else resubmitted
        assert loser.headers["content-type"] == "application/problem+json"
        async with app.state.session_factory() as session:
            homework = await session.get(Homework, uuid.UUID(homework_id))
            submissions = await session.scalar(select(func.count()).where(
                Submission.homework_id == homework.id))
            grades = list(await session.scalars(select(Grade).where(Grade.homework_id == homework.id)))
            files = await session.scalar(select(func.count()).where(HomeworkFile.homework_id == homework.id))
        if graded.status_code == 200:
            outcomes.add("grade won")
            assert (homework.status, homework.score, submissions, files) == ("graded", 90, 1, 1)
            assert [str(g.submission_id) for g in grades] == [seen]
        else:
            outcomes.add("resubmission won")
            assert (homework.status, homework.score, submissions, files, grades) == ("submitted", None, 2, 2, [])
    assert outcomes   # which side wins depends on the scheduling; each round has exactly one
    # a refused resubmission left no blob: every stored file belongs to a row
    async with app.state.session_factory() as session:
        kept = set(await session.scalars(select(HomeworkFile.storage_key)))
    root = app.state.context.storage.root
    assert {p.name for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"} == kept


async def test_a_grade_waits_for_the_homeworks_row_lock(servers, world):
    """While a transaction holds the homework's row (as a resubmission does while it records),
    a grade waits, then decides on what that transaction left: here, a newer submission."""
    client, app, keys = world
    teacher, student = await linked_pair(servers, app, keys)
    homework_id, seen = await submitted_homework(client, teacher, student)
    async with app.state.session_factory() as session, session.begin():
        homework = await session.get(Homework, uuid.UUID(homework_id), with_for_update=True)
        grade = asyncio.create_task(client.post(f"/api/v1/homework/{homework_id}/grade", headers=teacher.headers,
                                                json={"score": 90, "submission_id": seen}))
        await eventually(lambda: _waiting_for_a_lock(app))
        session.add(Submission(id=uuid.uuid4(), homework_id=homework.id, number=2, text="newer",
                               submitted_at=datetime.now(UTC), on_time=True))
    answer = await grade
    assert answer.status_code == 409, answer.text
    assert "newer submission" in answer.json()["detail"]


async def _waiting_for_a_lock(app) -> int:
    async with app.state.session_factory() as session:
        return await session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
