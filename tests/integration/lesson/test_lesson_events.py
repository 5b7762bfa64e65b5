"""The lesson service's events on real RabbitMQ, both ways: what it publishes, what it learns."""
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.lesson.models import KnownUser, ParentLink, TeacherLink
from shared.events import ParentLinked, TeacherLinked, UserCreated, UserUpdated, make_event
from shared.inbox import InboxEntry
from tests.integration.lesson.world import tomorrow_at
from tests.support import consumed, eventually


async def test_lesson_completed_reaches_rabbitmq_with_the_requests_correlation_id(world, tap):
    teacher, student = await world.teacher_and_student()
    booked = await world.book(teacher, student, tomorrow_at(10), lesson_type="exam_prep",
                              price={"amount": 150000, "currency": "RUB"})
    lesson_id = booked.json()["id"]
    await world.client.post(f"/api/v1/lessons/{lesson_id}/start", headers=teacher.headers)
    correlation_id = f"complete-{uuid.uuid4().hex}"

    completed = await world.client.post(
        f"/api/v1/lessons/{lesson_id}/complete", json={"attendance": "late", "score": 88, "notes": "good"},
        headers={**teacher.headers, "X-Correlation-ID": correlation_id})

    assert completed.status_code == 200
    [event] = await tap.wait_for("lesson.completed", lesson_id=lesson_id)
    message = tap.message(event)
    assert message.correlation_id == event.correlation_id == correlation_id
    assert (message.type, message.routing_key, event.producer) == ("lesson.completed", "lesson.completed", "lesson")
    payload = event.payload
    assert payload["teacher_id"] == str(teacher.id) and payload["student_id"] == str(student.id)
    assert (payload["subject"], payload["lesson_type"], payload["duration_minutes"]) == ("Maths", "exam_prep", 60)
    assert (payload["attended"], payload["attendance"], payload["score"]) == (True, "late", 88)
    assert (payload["price"], payload["currency"]) == (150000, "RUB")
    assert payload["starts_at"] == booked.json()["starts_at"].replace("+00:00", "Z")


async def test_every_step_of_a_lesson_is_published_in_order(world, tap):
    teacher, student = await world.teacher_and_student()
    lesson_id = (await world.book(teacher, student, tomorrow_at(12))).json()["id"]
    moved_to = tomorrow_at(15)
    await world.client.patch(f"/api/v1/lessons/{lesson_id}", json={"starts_at": moved_to.isoformat()},
                             headers=teacher.headers)
    await world.client.post(f"/api/v1/lessons/{lesson_id}/start", headers=teacher.headers)
    await world.client.post(f"/api/v1/lessons/{lesson_id}/cancel", json={"reason": "power cut"},
                            headers=student.headers)

    [cancelled] = [e.payload for e in await tap.wait_for("lesson.cancelled", lesson_id=lesson_id)]
    assert tap.types(lesson_id=lesson_id) == ["lesson.scheduled", "lesson.rescheduled", "lesson.started",
                                        "lesson.cancelled"]
    assert (cancelled["cancelled_by"], cancelled["reason"]) == (str(student.id), "power cut")
    [rescheduled] = [e.payload for e in tap.of("lesson.rescheduled", lesson_id=lesson_id)]
    assert rescheduled["old_starts_at"] == tomorrow_at(12).isoformat().replace("+00:00", "Z")
    assert rescheduled["starts_at"] == moved_to.isoformat().replace("+00:00", "Z")


async def test_a_series_publishes_one_scheduled_event_per_occurrence_with_the_series_id(world, tap):
    teacher, student = await world.teacher_and_student()
    series = (await world.book(teacher, student, tomorrow_at(7), recurrence={"weekly_count": 3})).json()
    for item in series["items"]:
        [scheduled] = await tap.wait_for("lesson.scheduled", lesson_id=item["id"])
        assert scheduled.payload["series_id"] == series["series_id"]


async def test_the_read_model_does_not_depend_on_the_order_of_user_events(world):
    user_id = uuid.uuid4()
    # the update overtakes the creation
    await world.tell(UserUpdated(user_id=user_id, changed={"timezone": "Asia/Tokyo", "avatar": "x.png"}))
    await world.wait_for(KnownUser, id=user_id, timezone="Asia/Tokyo")
    await world.tell(UserCreated(user_id=user_id, role="teacher", full_name="Late Creation", email="l@x.io"))
    user = await world.wait_for(KnownUser, id=user_id, full_name="Late Creation")
    assert (user.role, user.timezone) == ("teacher", "Asia/Tokyo")


async def test_links_to_users_not_seen_yet_and_unknown_fields_are_kept(world):
    teacher, student, parent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await world.tell(TeacherLinked(teacher_id=teacher, student_id=student, invited_via="telegram"),
                     ParentLinked(parent_id=parent, student_id=student))
    await world.wait_for(TeacherLink, teacher_id=teacher, student_id=student)
    await world.wait_for(ParentLink, parent_id=parent, student_id=student)


async def test_a_redelivered_event_is_recognised_and_skipped(world):
    def duplicates() -> float:
        return consumed("lesson", "user.teacher_linked", "duplicate")

    before = duplicates()
    event = make_event(TeacherLinked(teacher_id=uuid.uuid4(), student_id=uuid.uuid4()), producer="user")
    await world.user_service.publish([event, event])

    await eventually(lambda: duplicates() == before + 1)
    async with world.app.state.session_factory() as session:
        handled = await session.scalar(select(func.count()).select_from(InboxEntry)
                                       .where(InboxEntry.event_id == event.id))
    assert handled == 1


async def test_a_booking_needs_the_link_and_works_once_it_arrives(world, users):
    teacher, student = await users.account(world, "teacher"), await users.account(world, "student")
    start = tomorrow_at(9) + timedelta(days=1)
    refused = await world.book(teacher, student, start)
    await world.tell(TeacherLinked(teacher_id=teacher.id, student_id=student.id))
    await world.wait_for(TeacherLink, teacher_id=teacher.id, student_id=student.id)
    accepted = await world.book(teacher, student, start)
    assert (refused.status_code, accepted.status_code) == (422, 201)
    assert refused.json()["errors"][0]["loc"] == ["body", "student_id"]
