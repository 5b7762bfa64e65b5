"""Each event the catalog routes here tells the right people."""
import uuid
from datetime import timedelta

from services.notification.models import BalanceMark, Notification, ParentLink, TeacherLink
from shared.events import (
    BalanceUpdated,
    HomeworkAssigned,
    HomeworkGraded,
    HomeworkSubmitted,
    LessonCancelled,
    LessonCompleted,
    MaterialUploaded,
    ParentLinked,
    PaymentCompleted,
    PaymentRefunded,
    TeacherLinked,
)
from tests.integration.notification.world import Person, World
from tests.support import eventually


async def family(world: World) -> tuple[Person, Person, Person]:
    teacher = await world.known("teacher", name="Anna")
    student = await world.known("student", name="Ivan")
    parent = await world.known("parent", name="Olga")
    await world.publish(TeacherLinked(teacher_id=teacher.id, student_id=student.id),
                        ParentLinked(parent_id=parent.id, student_id=student.id), producer="user")
    await world.row(TeacherLink, student_id=student.id, teacher_id=teacher.id)
    await world.row(ParentLink, student_id=student.id, parent_id=parent.id)
    return teacher, student, parent


async def kinds_of(world: World, person: Person) -> list[str]:
    return sorted(n.kind for n in await world.rows(Notification, user_id=person.id))


async def test_every_event_reaches_the_people_it_concerns(world, clock):
    teacher, student, parent = await family(world)
    outsider = await world.known("student")  # the teacher's other student would be linked; this one is not
    now, homework_id = clock(), uuid.uuid4()
    await world.publish(
        LessonCompleted(lesson_id=uuid.uuid4(), teacher_id=teacher.id, student_id=student.id, subject="Maths",
                        starts_at=now - timedelta(hours=1), duration_minutes=60, score=90),
        LessonCancelled(lesson_id=uuid.uuid4(), teacher_id=teacher.id, student_id=student.id,
                        cancelled_by=student.id, reason="ill", starts_at=now + timedelta(days=1)),
        HomeworkAssigned(homework_id=homework_id, teacher_id=teacher.id, student_id=student.id,
                         title="Exercises 1-5", due_at=now + timedelta(days=2)),
        PaymentCompleted(payment_id=uuid.uuid4(), student_id=student.id, payer_id=parent.id, amount=150_000,
                         provider="manual"),
        PaymentRefunded(payment_id=uuid.uuid4(), student_id=student.id, amount=50_000),
        MaterialUploaded(material_id=uuid.uuid4(), teacher_id=teacher.id, subject="English",
                         visibility="students", title="Verbs"),
        MaterialUploaded(material_id=uuid.uuid4(), teacher_id=teacher.id, subject="English",
                         visibility="private", title="My notes"),
        producer="test")
    await world.row(Notification, user_id=student.id, kind="homework_assigned")
    await world.publish(
        HomeworkSubmitted(homework_id=homework_id, student_id=student.id, teacher_id=teacher.id,
                          submitted_at=now, due_at=now + timedelta(days=2), on_time=True),
        HomeworkGraded(homework_id=homework_id, student_id=student.id, teacher_id=teacher.id, score=8,
                       max_score=10), producer="homework")

    async def all_told() -> bool:
        return await world.rows(Notification, user_id=student.id, kind="homework_graded") \
            and await world.rows(Notification, user_id=teacher.id, kind="homework_submitted")
    await eventually(all_told)
    assert await kinds_of(world, student) == [   # told of each new link too
        "homework_assigned", "homework_graded", "lesson_completed", "link_created", "link_created",
        "material_uploaded"]
    assert await kinds_of(world, parent) == [
        "lesson_cancelled", "lesson_completed", "payment_completed", "payment_refunded"]
    assert await kinds_of(world, teacher) == ["homework_submitted", "lesson_cancelled"]
    assert await kinds_of(world, outsider) == []
    [submitted] = await world.rows(Notification, user_id=teacher.id, kind="homework_submitted")
    assert submitted.body.startswith('Ivan has handed in "Exercises 1-5" on ')
    assert submitted.body.endswith(", on time.")


async def test_a_low_balance_tells_the_payer_and_the_teacher_when_it_goes_down_under_the_threshold(world, clock):
    teacher, student, parent = await family(world)

    async def balance(amount: int) -> None:
        clock.advance(seconds=1)
        await world.publish(BalanceUpdated(student_id=student.id, balance=amount, reason="lesson_charge",
                                           transaction_id=uuid.uuid4()), producer="payment")
        await world.row(BalanceMark, student_id=student.id, balance=amount)

    await balance(500_000)
    await balance(200_000)   # above the threshold of 1000.00: nothing
    await balance(-30_000)   # under it: told
    await balance(-10_000)   # a top-up that leaves a debt: nothing
    await balance(-60_000)   # further down: told again
    for person in (teacher, parent):
        assert [n["title"] for n in await world.inbox(person)] == [
            "Low balance: -600.00 RUB", "Low balance: -300.00 RUB"]
    assert await kinds_of(world, student) == ["link_created", "link_created"]  # the parent pays
