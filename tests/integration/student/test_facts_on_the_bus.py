"""Learning events published on the real RabbitMQ, applied on the real PostgreSQL."""
import asyncio
import uuid

import aio_pika
from sqlalchemy import func, select

from services.student.engine import Fact, replay
from services.student.models import EarnedAchievement, XpEntry
from services.student.ruleset import load_default_ruleset
from shared.events import UserUpdated, make_event
from shared.outbox import OutboxMessage
from tests.integration.student.world import StudentWorld, lesson_completed, moscow
from tests.support import TestKeys, consumed, eventually

RULES = load_default_ruleset()


async def test_the_same_lesson_completed_delivered_three_times_gives_xp_once(world: StudentWorld, tap):
    student = world.person("student")
    event = lesson_completed(student.id, moscow(2), score=80)
    skipped = consumed("student", "lesson.completed", "duplicate")
    for _ in range(3):
        await world.publish(event)
    await eventually(lambda: consumed("student", "lesson.completed", "duplicate") == skipped + 2)

    ledger = await world.ledger(student.id)
    assert sorted((e.rule, e.amount, e.source_event_id) for e in ledger) == [
        ("achievement:first_step", 50, event.id), ("lesson_attended", 180, event.id)]
    profile = (await world.get(f"/api/v1/students/{student.id}/profile", student)).json()
    assert (profile["xp"], profile["achievements_earned"]) == (230, 1)
    assert len(await tap.wait_for("xp.earned", count=2, student_id=student.id)) == 2
    assert len(await _outbox_bodies(world, "xp.earned", student.id)) == 2


async def _outbox_bodies(world: StudentWorld, event_type: str, student_id: uuid.UUID) -> list[dict]:
    async with world.app.state.session_factory() as session:
        bodies = await session.scalars(select(OutboxMessage.body).where(OutboxMessage.type == event_type))
    return [body for body in bodies if body["payload"]["student_id"] == str(student_id)]


async def test_an_unattended_or_cancelled_lesson_gives_no_xp_but_is_kept_as_a_fact(world: StudentWorld):
    from shared.events import LessonCancelled
    student = world.person("student")
    absent = lesson_completed(student.id, moscow(3), attended=False)
    cancelled = make_event(LessonCancelled(lesson_id=uuid.uuid4(), teacher_id=uuid.uuid4(), student_id=student.id,
                                           cancelled_by=uuid.uuid4(), reason="ill", starts_at=moscow(4)),
                           producer="lesson")
    await world.publish(absent, cancelled)
    await world.wait_for_facts(student.id, 2)
    assert await world.ledger(student.id) == []
    assert (await world.state(student.id)).learning_days == []


async def test_facts_of_a_student_not_seen_yet_count_in_moscow_days_and_later_zones_do_not_rewrite_them(
        world: StudentWorld):
    student = world.person("student")  # no user.created at all
    late_evening = lesson_completed(student.id, moscow(5, 23))  # 23:00 Moscow = 20:00 UTC
    await world.publish(late_evening)
    await world.wait_for_facts(student.id, 1)
    await world.tell(UserUpdated(user_id=student.id, changed={"timezone": "Asia/Vladivostok"}))
    await eventually(lambda: _zone_known(world, student.id))
    morning = lesson_completed(student.id, moscow(6, 1))  # 08:00 next day in Vladivostok
    await world.publish(morning)
    await world.wait_for_facts(student.id, 2)

    state = await world.state(student.id)
    assert [day.isoformat() for day in state.learning_days] == ["2026-03-05", "2026-03-06"]


async def _zone_known(world: StudentWorld, student_id: uuid.UUID) -> bool:
    from services.student.models import UserTimezone
    async with world.app.state.session_factory() as session:
        return await session.scalar(select(UserTimezone).filter_by(user_id=student_id)) is not None


def two_hundred_lessons(student_id: uuid.UUID) -> list:
    """200 lessons over 25 days (8 a day): every achievement they reach does not depend on the
    order two consumers apply them in (no gap of 30 days can appear)."""
    return [lesson_completed(student_id, moscow(1 + day, 9 + slot), score=slot * 10)
            for day in range(25) for slot in range(8)]


async def test_two_instances_consuming_200_events_for_one_student_lose_no_update(
        servers, fresh_database, start_student_service):
    keys, database_url = TestKeys(), fresh_database("student_pair_")
    student_id = uuid.uuid4()
    events = two_hundred_lessons(student_id)
    expected, _ = replay([Fact.from_event(e, "Europe/Moscow") for e in events], RULES, RULES.curve())
    assert {"first_step", "student", "expert", "master", "marathon", "week_streak", "advanced"} <= set(expected.earned)

    async with start_student_service(database_url, keys) as (client, first), \
            start_student_service(database_url, keys) as (_, second):
        assert await _consumers_of("student.events", servers) == 2
        publisher = first.state.runtime.bus
        await asyncio.gather(*(publisher.publish(events[i:i + 50]) for i in range(0, 200, 50)))

        async def all_applied() -> bool:
            async with first.state.session_factory() as session:
                state = await session.scalar(select(func.count()).select_from(XpEntry)
                                             .where(XpEntry.student_id == student_id, XpEntry.source == "lesson"))
            return state == 200
        await eventually(all_applied, timeout=60)
        async with first.state.session_factory() as session:
            ledger = list(await session.scalars(select(XpEntry).where(XpEntry.student_id == student_id)))
            earned = set(await session.scalars(select(EarnedAchievement.code)
                                               .where(EarnedAchievement.student_id == student_id)))
            outbox = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                          .where(OutboxMessage.type == "achievement.earned"))
        headers = keys.headers(student_id, "student")
        profile = (await client.get(f"/api/v1/students/{student_id}/profile", headers=headers)).json()

    rewards = [code for code in expected.earned if RULES.achievements[code].xp_reward]
    assert len(ledger) == 200 + len(rewards)
    assert sum(e.amount for e in ledger) == expected.total_xp == profile["xp"]
    assert profile["level"] == expected.level
    assert earned == set(expected.earned)
    assert outbox == len(expected.earned)


async def _consumers_of(queue: str, servers) -> int:
    connection = await aio_pika.connect_robust(servers.rabbitmq_url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.consumer_count


async def test_a_malformed_event_is_parked_and_the_others_delivered_with_it_are_applied(world: StudentWorld):
    from shared.events import Event
    student = world.person("student")
    good = [lesson_completed(student.id, moscow(day)) for day in (1, 2, 3)]
    bad = Event(type="lesson.completed", producer="lesson",
                payload={"lesson_id": "not-a-uuid", "student_id": str(student.id)})
    await world.publish(good[0], bad, *good[1:])
    await world.wait_for_facts(student.id, 3)

    async def parked() -> list:
        return [letter for letter in await world.bus.dead_letters("student.events")
                if letter.event() and letter.event().id == bad.id]
    (letter,) = await eventually(parked)
    assert letter.reason.startswith("poison: ValidationError")
    assert len(await world.ledger(student.id)) == 4  # three lessons and «Первый шаг»
