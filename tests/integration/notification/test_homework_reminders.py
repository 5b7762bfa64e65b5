"""Homework reminders on a clock the test controls: 24 h before the due time when nothing came
in, moved with the due time, dropped by a submission (even one heard of before the assignment)."""
import uuid
from datetime import datetime, timedelta

from services.notification.dispatcher import dispatch_due
from services.notification.models import HomeworkReminder
from shared.events import HomeworkAssigned, HomeworkSubmitted, HomeworkUpdated
from tests.integration.notification.world import Person, World


async def assign(world: World, teacher: Person, student: Person, due_at: datetime) -> uuid.UUID:
    homework_id = uuid.uuid4()
    await world.publish(HomeworkAssigned(homework_id=homework_id, teacher_id=teacher.id, student_id=student.id,
                                         title="Essay", due_at=due_at), producer="homework")
    await world.row(HomeworkReminder, homework_id=homework_id, state="pending")
    return homework_id


async def reminded(world: World, person: Person) -> list[dict]:
    return [n for n in await world.inbox(person) if n["kind"] == "homework_reminder"]


async def test_the_student_is_reminded_a_day_before_the_moved_due_time_once(world, bot, clock):
    teacher, student = await world.known("teacher", name="Anna"), await world.known(locale="en")
    start = clock()
    homework_id = await assign(world, teacher, student, start + timedelta(hours=30))
    new_due = start + timedelta(hours=50)
    await world.publish(HomeworkUpdated(homework_id=homework_id, teacher_id=teacher.id, student_id=student.id,
                                        title="Essay", due_at=new_due, max_score=100), producer="homework")
    await world.row(HomeworkReminder, homework_id=homework_id, due_at=new_due - timedelta(hours=24))

    await dispatch_due(world.app, clock.advance(hours=7))        # the old reminder time: nothing
    assert not await reminded(world, student)
    await dispatch_due(world.app, clock.advance(hours=20))       # 26 h after the start: due
    await dispatch_due(world.app, clock.advance(hours=1))

    assert [n["title"] for n in await reminded(world, student)] == ["Homework due soon: Essay"]
    assert not await reminded(world, teacher)
    assert bot.to(student.chat_id)[-1]["text"].startswith("Homework due soon: Essay")
    assert (await world.row(HomeworkReminder, homework_id=homework_id)).state == "sent"


async def test_a_submission_drops_the_reminder_even_before_the_assignment_is_heard_of(world, clock):
    teacher, student = await world.known("teacher"), await world.known()
    start = clock()
    handed_in = await assign(world, teacher, student, start + timedelta(hours=30))
    await world.publish(HomeworkSubmitted(homework_id=handed_in, teacher_id=teacher.id, student_id=student.id,
                                          submitted_at=start, due_at=start + timedelta(hours=30), on_time=True),
                        producer="homework")
    await world.row(HomeworkReminder, homework_id=handed_in, state="cancelled")

    early = uuid.uuid4()   # its submission arrives first
    await world.publish(HomeworkSubmitted(homework_id=early, teacher_id=teacher.id, student_id=student.id,
                                          submitted_at=start, due_at=start + timedelta(hours=30), on_time=True),
                        HomeworkAssigned(homework_id=early, teacher_id=teacher.id, student_id=student.id,
                                         title="Early", due_at=start + timedelta(hours=30)), producer="homework")
    open_one = await assign(world, teacher, student, start + timedelta(hours=30))   # handled after both

    await dispatch_due(world.app, clock.advance(hours=7))
    assert len(await reminded(world, student)) == 1              # only the one still open
    assert not await world.rows(HomeworkReminder, homework_id=early, state="pending")
    assert (await world.row(HomeworkReminder, homework_id=open_one)).state == "sent"
    submitted_told = [n for n in await world.inbox(teacher) if n["kind"] == "homework_submitted"]
    assert len(submitted_told) == 2
