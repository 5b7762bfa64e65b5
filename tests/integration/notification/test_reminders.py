"""Lesson reminders on a clock the test controls: sent once, moved, dropped, shared by instances."""
import asyncio
import uuid
from datetime import datetime, timedelta

from services.notification.dispatcher import dispatch_due
from services.notification.domain import zone
from services.notification.models import Reminder
from shared.events import LessonCancelled, LessonRescheduled, LessonScheduled
from tests.integration.notification.world import Person, World
from tests.support import eventually


async def schedule(world: World, teacher: Person, student: Person, starts_at: datetime) -> uuid.UUID:
    lesson_id = uuid.uuid4()
    await world.publish(LessonScheduled(lesson_id=lesson_id, teacher_id=teacher.id, student_id=student.id,
                                        subject="Mathematics", title="Fractions", starts_at=starts_at,
                                        duration_minutes=60), producer="lesson")
    await world.row(Reminder, lesson_id=lesson_id, offset_minutes=60, state="pending")
    return lesson_id


async def reminded(world: World, person: Person) -> list[dict]:
    return [n for n in await world.inbox(person) if n["kind"] == "lesson_reminder"]


async def test_a_lesson_two_hours_ahead_gets_its_one_hour_reminder_once(world, smtp, bot, clock):
    teacher, student = await world.known("teacher", name="Anna"), await world.known(locale="ru")
    start = clock()
    await schedule(world, teacher, student, start + timedelta(hours=2))

    await dispatch_due(world.app, clock.advance(minutes=59))
    assert not await reminded(world, student)
    await dispatch_due(world.app, clock.advance(minutes=2))
    for _ in range(3):
        await dispatch_due(world.app, clock.advance(minutes=1))

    for person in (teacher, student):
        assert len(await reminded(world, person)) == 1
        assert len(smtp.to(person.email)) == 1 and len(bot.to(person.chat_id)) == 1
    local = (start + timedelta(hours=2)).astimezone(zone("Europe/Moscow"))
    assert smtp.to(student.email)[0]["Subject"] == \
        f"Напоминание об уроке «Fractions»: {local:%d.%m.%Y} в {local:%H:%M}"
    assert bot.to(teacher.chat_id)[0]["text"].startswith("Reminder: Fractions")


async def test_rescheduling_moves_the_reminder(world, bot, clock):
    teacher, student = await world.known("teacher"), await world.known()
    start = clock()
    lesson_id = await schedule(world, teacher, student, start + timedelta(hours=2))
    await world.publish(LessonRescheduled(lesson_id=lesson_id, teacher_id=teacher.id, student_id=student.id,
                                          old_starts_at=start + timedelta(hours=2),
                                          starts_at=start + timedelta(hours=5)), producer="lesson")
    await world.row(Reminder, lesson_id=lesson_id, offset_minutes=60, due_at=start + timedelta(hours=4))
    assert [n["kind"] for n in await world.inbox(student)] == ["lesson_rescheduled"]

    await dispatch_due(world.app, clock.advance(hours=1, minutes=1))
    assert not await reminded(world, student)
    await dispatch_due(world.app, clock.advance(hours=3))
    assert len(await reminded(world, student)) == 1
    texts = [call["text"] for call in bot.to(student.chat_id)]
    assert len(texts) == 2 and texts[0].startswith("Lesson moved") and texts[1].startswith("Reminder")


async def test_cancelling_drops_the_reminder(world, bot, clock):
    teacher, student = await world.known("teacher", name="Anna"), await world.known()
    start = clock()
    lesson_id = await schedule(world, teacher, student, start + timedelta(hours=2))
    await world.publish(LessonCancelled(lesson_id=lesson_id, teacher_id=teacher.id, student_id=student.id,
                                        cancelled_by=teacher.id, reason="ill",
                                        starts_at=start + timedelta(hours=2)), producer="lesson")
    await world.row(Reminder, lesson_id=lesson_id, offset_minutes=60, state="cancelled")

    await dispatch_due(world.app, clock.advance(hours=1, minutes=1))
    assert not await reminded(world, student) and not await reminded(world, teacher)
    [cancelled] = await world.inbox(student)
    assert cancelled["kind"] == "lesson_cancelled" and "by Anna" in cancelled["body"]
    assert not await world.inbox(teacher)  # the one who cancelled is not told
    assert [c["text"].split("\n")[0] for c in bot.to(student.chat_id)][0].startswith("Lesson cancelled")


async def test_a_reminder_goes_out_in_quiet_hours_when_the_lesson_starts_before_they_end(world, bot, clock):
    teacher, student = await world.known("teacher"), await world.known()
    local = clock().astimezone(zone("Europe/Moscow"))
    quiet = {"start": (local + timedelta(minutes=30)).strftime("%H:%M"),
             "end": (local + timedelta(hours=3)).strftime("%H:%M")}
    await world.client.put("/api/v1/notifications/preferences", headers=student.headers, json={"quiet_hours": quiet})
    await schedule(world, teacher, student, clock() + timedelta(hours=2))

    await dispatch_due(world.app, clock.advance(hours=1, minutes=1))
    assert len(bot.to(student.chat_id)) == 1


async def test_a_restart_loses_no_reminder(start, bot, clock):
    async with start() as first:
        teacher, student = await first.known("teacher"), await first.known()
        await schedule(first, teacher, student, clock() + timedelta(hours=2))
    async with start() as second:
        await dispatch_due(second.app, clock.advance(hours=1, minutes=1))
        assert len(await reminded(second, student)) == 1 and len(bot.to(student.chat_id)) == 1


async def test_two_instances_send_each_reminder_once(start, smtp, bot, clock):
    async with start(dispatch_interval_seconds=0.05) as one, start(dispatch_interval_seconds=0.05) as two:
        teachers = [await one.known("teacher") for _ in range(2)]
        students = [await two.known() for _ in range(6)]
        for i, student in enumerate(students):
            await schedule(one, teachers[i % 2], student, clock() + timedelta(hours=2))

        clock.advance(hours=1, minutes=1)  # both loops now find the same reminders due
        await asyncio.gather(*(dispatch_due(app, clock()) for app in [one.app, two.app] * 5))

        async def all_sent() -> bool:
            return all(bot.to(s.chat_id) and smtp.to(s.email) for s in students)
        await eventually(all_sent)
        rounds = clock.reads
        await eventually(lambda: clock.reads >= rounds + 20)  # many more rounds of both loops
        in_app = [len(await reminded(one, student)) for student in students]
    # both instances have stopped: no round is still under way
    assert in_app == [1] * len(students)
    for student in students:
        assert len(bot.to(student.chat_id)) == 1 and len(smtp.to(student.email)) == 1
    for teacher in teachers:
        assert len(bot.to(teacher.chat_id)) == 3 and len(smtp.to(teacher.email)) == 3
