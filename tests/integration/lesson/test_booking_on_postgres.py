"""Booking on real PostgreSQL: concurrent bookings, weekly series across DST, idempotency."""
import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from services.lesson.models import Lesson, TeacherLink
from shared.events import TeacherLinked
from tests.integration.lesson.world import LessonWorld, tomorrow_at
from tests.support import eventually

BERLIN = ZoneInfo("Europe/Berlin")


def lesson_row(teacher_id: uuid.UUID, student_id: uuid.UUID, starts_at: datetime, minutes: int = 60,
               status: str = "scheduled") -> Lesson:
    now = datetime.now(UTC)
    return Lesson(id=uuid.uuid4(), teacher_id=teacher_id, student_id=student_id, subject="Maths", title="t",
                  lesson_type="regular", starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
                  duration_minutes=minutes, status=status, sequence=0, created_at=now, updated_at=now)


async def active_lessons_of(world: LessonWorld, teacher_id: uuid.UUID) -> int:
    async with world.app.state.session_factory() as session:
        return await session.scalar(select(func.count()).select_from(Lesson).where(
            Lesson.teacher_id == teacher_id, Lesson.status.in_(["scheduled", "in_progress"])))


async def waiting_for_a_lock(world: LessonWorld) -> int:
    """How many transactions on the service's database are waiting for another's lock."""
    async with world.app.state.session_factory() as session:
        return await session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))


async def test_two_simultaneous_bookings_of_one_slot_give_one_201_and_one_409(world):
    teacher, student = await world.teacher_and_student()
    start = tomorrow_at(10)
    responses = await asyncio.gather(world.book(teacher, student, start),
                                     world.book(teacher, student, start + timedelta(minutes=30)))
    assert sorted(r.status_code for r in responses) == [201, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.headers["content-type"].startswith("application/problem+json")
    assert await active_lessons_of(world, teacher.id) == 1


async def test_many_simultaneous_bookings_of_one_teachers_hour_leave_exactly_one(world):
    teacher, first = await world.teacher_and_student()
    students = [first]
    for _ in range(3):
        other = world.person("student")
        await world.tell(TeacherLinked(teacher_id=teacher.id, student_id=other.id))
        students.append(other)
    for student in students:
        await world.wait_for(TeacherLink, teacher_id=teacher.id, student_id=student.id)
    start = tomorrow_at(12)
    # eight requests, starts 0..35 minutes apart: every pair overlaps
    responses = await asyncio.gather(*(world.book(teacher, s, start + timedelta(minutes=5 * i))
                                       for i, s in enumerate(students * 2)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert await active_lessons_of(world, teacher.id) == 1


async def test_the_database_itself_refuses_an_overlap_that_passed_no_check(world):
    """Two transactions insert overlapping lessons of one teacher: the second waits for the first
    and fails once it commits (the exclusion constraint, not the service's read)."""
    teacher, student = uuid.uuid4(), uuid.uuid4()
    start = tomorrow_at(14)
    sessions = world.app.state.session_factory
    async with sessions() as first, sessions() as second:
        first.add(lesson_row(teacher, student, start))
        await first.flush()
        second.add(lesson_row(teacher, uuid.uuid4(), start + timedelta(minutes=59)))
        pending = asyncio.create_task(second.flush())
        await eventually(lambda: waiting_for_a_lock(world))
        assert not pending.done()  # blocked on the first transaction's row
        await first.commit()
        with pytest.raises(IntegrityError) as raised:
            await pending
        assert raised.value.orig.sqlstate == "23P01"


async def test_the_database_allows_back_to_back_and_ignores_cancelled_lessons(world):
    teacher, student = uuid.uuid4(), uuid.uuid4()
    start = tomorrow_at(15)
    async with world.app.state.session_factory() as session:
        session.add_all([lesson_row(teacher, student, start),
                         lesson_row(teacher, student, start + timedelta(minutes=60)),
                         lesson_row(teacher, student, start, status="cancelled"),
                         lesson_row(teacher, student, start, status="completed")])
        await session.commit()
        stored = await session.scalar(select(func.count()).select_from(Lesson).where(Lesson.teacher_id == teacher))
    assert stored == 4


async def test_a_booking_that_loses_the_race_in_the_database_is_a_409_naming_the_winner(world):
    teacher, student = await world.teacher_and_student()
    start = tomorrow_at(16)
    winner = lesson_row(teacher.id, uuid.uuid4(), start)
    async with world.app.state.session_factory() as session:
        session.add(winner)
        await session.flush()  # not committed: the service's own check cannot see it
        booking = asyncio.create_task(world.book(teacher, student, start + timedelta(minutes=15)))
        await eventually(lambda: waiting_for_a_lock(world))
        assert not booking.done()
        await session.commit()
    response = await booking
    assert response.status_code == 409, response.text
    assert str(winner.id) in response.json()["errors"][0]["msg"]


async def test_with_an_idempotency_key_a_booking_that_loses_the_race_is_a_409_and_keeps_no_key(world):
    """The booking runs in a savepoint of the transaction that holds the key: the exclusion violation
    undoes the booking's savepoint, the clash is reported, and the key is not kept."""
    teacher, student = await world.teacher_and_student()
    start = tomorrow_at(17)
    headers = {**teacher.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    body = {"student_id": str(student.id), "subject": "Maths", "title": "Fractions",
            "starts_at": (start + timedelta(minutes=15)).isoformat(), "duration_minutes": 60}
    winner = lesson_row(teacher.id, uuid.uuid4(), start)
    async with world.app.state.session_factory() as session:
        session.add(winner)
        await session.flush()
        booking = asyncio.create_task(world.client.post("/api/v1/lessons", json=body, headers=headers))
        await asyncio.sleep(0.5)
        assert not booking.done()
        await session.commit()
    response = await booking
    assert response.status_code == 409, response.text
    assert str(winner.id) in response.json()["errors"][0]["msg"]

    later = start + timedelta(hours=3)
    retried = await world.client.post("/api/v1/lessons", headers=headers,
                                      json={**body, "starts_at": later.isoformat()})
    assert retried.status_code == 201, retried.text  # the key was not kept with the refusal
    assert await active_lessons_of(world, teacher.id) == 2


def next_dst_change(tz: ZoneInfo, after: datetime) -> datetime:
    day = after.astimezone(tz).replace(hour=12, minute=0, second=0, microsecond=0)
    while (day + timedelta(days=1)).utcoffset() == day.utcoffset():
        day += timedelta(days=1)
    return day + timedelta(days=1)  # the first noon on the new offset


async def test_a_weekly_series_across_a_dst_change_keeps_the_teachers_local_time(world):
    teacher, student = await world.teacher_and_student(timezone_name="Europe/Berlin")
    change = next_dst_change(BERLIN, datetime.now(UTC) + timedelta(days=2))
    first = (change - timedelta(days=14)).replace(hour=18)
    if first <= datetime.now(UTC) + timedelta(hours=1):
        change = next_dst_change(BERLIN, change + timedelta(days=1))
        first = (change - timedelta(days=14)).replace(hour=18)

    # the client sends the start in UTC; the series follows the teacher's Berlin clock
    response = await world.book(teacher, student, first.astimezone(UTC), recurrence={"weekly_count": 4})

    assert response.status_code == 201, response.text
    items = response.json()["items"]
    starts = [datetime.fromisoformat(i["starts_at"]) for i in items]
    assert [s.astimezone(BERLIN).strftime("%H:%M") for s in starts] == ["18:00"] * 4
    assert [(b - a) for a, b in itertools.pairwise(starts)].count(timedelta(days=7)) == 2  # one week is 7 d ± 1 h
    assert len({s.utcoffset() for s in starts}) == 1 and len({s.astimezone(BERLIN).utcoffset() for s in starts}) == 2
    assert len({i["series_id"] for i in items}) == 1 and items[0]["series_id"] == response.json()["series_id"]


async def test_a_series_with_one_clashing_occurrence_books_nothing_and_names_the_clash(world):
    teacher, student = await world.teacher_and_student()
    first = tomorrow_at(9)
    blocker = await world.book(teacher, student, first + timedelta(weeks=2, minutes=30))
    assert blocker.status_code == 201

    response = await world.book(teacher, student, first, recurrence={"weekly_count": 4})

    assert response.status_code == 409
    problem = response.json()
    assert [e["loc"] for e in problem["errors"]] == [["body", "recurrence", "2"]]
    assert blocker.json()["id"] in problem["errors"][0]["msg"]
    assert await active_lessons_of(world, teacher.id) == 1


async def test_moving_or_cancelling_one_occurrence_leaves_the_rest_of_the_series(world):
    teacher, student = await world.teacher_and_student()
    series = (await world.book(teacher, student, tomorrow_at(11), recurrence={"weekly_count": 3})).json()
    first, second, third = series["items"]
    new_start = datetime.fromisoformat(second["starts_at"]) + timedelta(hours=3)

    moved = await world.client.patch(f"/api/v1/lessons/{second['id']}", headers=teacher.headers,
                                     json={"starts_at": new_start.isoformat()})
    dropped = await world.client.post(f"/api/v1/lessons/{third['id']}/cancel", headers=student.headers,
                                      json={"reason": "exams at school"})

    assert moved.status_code == 200 and datetime.fromisoformat(moved.json()["starts_at"]) == new_start
    assert dropped.status_code == 200 and dropped.json()["cancelled_by"] == str(student.id)
    untouched = (await world.client.get(f"/api/v1/lessons/{first['id']}", headers=teacher.headers)).json()
    assert untouched == first
    assert {moved.json()["series_id"], dropped.json()["series_id"]} == {series["series_id"]}


async def test_rescheduling_onto_another_lesson_is_a_conflict(world):
    teacher, student = await world.teacher_and_student()
    a = (await world.book(teacher, student, tomorrow_at(8))).json()
    b = (await world.book(teacher, student, tomorrow_at(10))).json()
    response = await world.client.patch(f"/api/v1/lessons/{b['id']}", headers=teacher.headers,
                                        json={"starts_at": tomorrow_at(8, 30).isoformat()})
    assert response.status_code == 409
    assert a["id"] in response.json()["detail"]
    # back to back with the other lesson is fine, and so is a longer lesson in its own slot
    assert (await world.client.patch(f"/api/v1/lessons/{b['id']}", headers=teacher.headers,
                                     json={"starts_at": tomorrow_at(9).isoformat()})).status_code == 200
    assert (await world.client.patch(f"/api/v1/lessons/{b['id']}", headers=teacher.headers,
                                     json={"duration_minutes": 120})).status_code == 200


async def test_the_same_idempotency_key_returns_the_first_booking_and_refuses_another_body(world):
    teacher, student = await world.teacher_and_student()
    headers = {**teacher.headers, "Idempotency-Key": f"book-{uuid.uuid4()}"}
    body = {"student_id": str(student.id), "subject": "Maths", "title": "Fractions",
            "starts_at": tomorrow_at(13).isoformat(), "duration_minutes": 45}

    first, again = await asyncio.gather(world.client.post("/api/v1/lessons", json=body, headers=headers),
                                        world.client.post("/api/v1/lessons", json=body, headers=headers))
    other = await world.client.post("/api/v1/lessons", json={**body, "duration_minutes": 60}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201), (first.text, again.text)
    assert first.json()["id"] == again.json()["id"]
    assert other.status_code == 409
    assert await active_lessons_of(world, teacher.id) == 1
