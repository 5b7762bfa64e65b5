"""Replay equals live, on the real servers: the stored facts rebuild exactly the stored state;
the command reports it and repairs a damaged state without taking anything away."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import func, select, update

from services.student.engine import StudentState
from services.student.models import EarnedAchievement, StudentStateRow, XpEntry
from services.student.replay import replay_students
from shared.events import CardReviewed, HomeworkGraded, HomeworkSubmitted, MaterialStudied, PaymentCompleted, make_event
from shared.outbox import OutboxMessage
from tests.integration.student.world import StudentWorld, lesson_completed, moscow
from tests.support import mesh_settings_env

ROOT = Path(__file__).resolve().parents[3]


def a_month_of_learning(student_id: uuid.UUID) -> list:
    """Lessons, homework, materials, cards and a payment over a month, a few of them late or twice."""
    homework, card = uuid.uuid4(), uuid.uuid4()
    events = [lesson_completed(student_id, moscow(1 + day, 10 + day % 12), score=day * 3 % 100,
                               lesson_type=("regular", "intensive", "exam_prep")[day % 3]) for day in range(0, 28, 2)]
    events += [
        make_event(HomeworkSubmitted(homework_id=homework, student_id=student_id, teacher_id=uuid.uuid4(),
                                     submitted_at=moscow(3), due_at=moscow(4), on_time=True),
                   producer="homework", occurred_at=moscow(3)),
        make_event(HomeworkGraded(homework_id=homework, student_id=student_id, teacher_id=uuid.uuid4(),
                                  score=10, max_score=10), producer="homework", occurred_at=moscow(5)),
        make_event(MaterialStudied(material_id=uuid.uuid4(), student_id=student_id, subject="maths"),
                   producer="material", occurred_at=moscow(6)),
        make_event(PaymentCompleted(payment_id=uuid.uuid4(), student_id=student_id, payer_id=uuid.uuid4(),
                                    amount=250_000, provider="manual"), producer="payment", occurred_at=moscow(7)),
    ]
    events += [make_event(CardReviewed(card_id=card, deck_id=uuid.uuid4(), student_id=student_id, rating="good",
                                       reviewed_at=moscow(9), learned=i == 5), producer="dictionary",
                          occurred_at=moscow(9, 8) if i < 60 else moscow(10)) for i in range(62)]
    return events


async def ingest(world: StudentWorld, student_id: uuid.UUID) -> int:
    events = a_month_of_learning(student_id)
    await world.publish(*events[::-1])  # late and out of order
    await world.publish(*events[:3])    # and some twice
    await world.wait_for_facts(student_id, len(events))
    return len(events)


async def test_replaying_the_stored_facts_gives_exactly_the_stored_state(world: StudentWorld):
    student = world.person("student")
    await ingest(world, student.id)
    (report,) = await replay_students(world.app.state.uow_factory, world.app.state.deps.game, [student.id], dry_run=True)
    assert report["equal"], report["differences"]
    assert report["stored"]["xp"] == report["ledger_xp"] > 0
    state = await world.state(student.id)
    assert state.cap_usage["dictionary"]["2026-03-09"] == 100  # 60 reviews that day, capped


async def test_a_damaged_state_is_repaired_from_the_facts_without_new_awards(world: StudentWorld):
    student = world.person("student")
    await ingest(world, student.id)
    good = await world.state(student.id)
    async with world.app.state.uow_factory() as uow:
        await uow.session.execute(update(StudentStateRow).where(StudentStateRow.student_id == student.id)
                                  .values(state=StudentState(total_xp=good.total_xp).to_dict()))
        await uow.commit()
    counts_before = await _counts(world, student.id)

    (dry,) = await replay_students(world.app.state.uow_factory, world.app.state.deps.game, [student.id], dry_run=True)
    assert not dry["equal"] and "earned" in dry["differences"]
    (fixed,) = await replay_students(world.app.state.uow_factory, world.app.state.deps.game, [student.id], dry_run=False)
    assert fixed["repaired"] and fixed["awarded"] == {"xp": 0, "achievements": []}
    assert (await world.state(student.id)).to_dict() == good.to_dict()
    assert await _counts(world, student.id) == counts_before


async def _counts(world: StudentWorld, student_id: uuid.UUID) -> tuple[int, int, int]:
    async with world.app.state.session_factory() as session:
        ledger = await session.scalar(select(func.count()).select_from(XpEntry).where(XpEntry.student_id == student_id))
        earned = await session.scalar(select(func.count()).select_from(EarnedAchievement)
                                      .where(EarnedAchievement.student_id == student_id))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
    return ledger, earned, outbox


async def test_the_replay_command_reports_every_student(world: StudentWorld, servers):
    first, second = world.person("student"), world.person("student")
    await ingest(world, first.id)
    await world.publish(lesson_completed(second.id, moscow(2)))
    await world.wait_for_facts(second.id, 1)
    env = {**os.environ, **mesh_settings_env(servers, world.app.state.settings.database_url)}
    command = [sys.executable, "-m", "repitbot.cli", "replay-student", "--all", "--dry-run"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{first.id}  equal" in done.stdout and f"{second.id}  equal" in done.stdout
    assert "2 student(s): 2 equal, 0 differ" in done.stdout
    unknown = subprocess.run([*command[:4], str(uuid.uuid4())], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert unknown.returncode != 0 and "No progress stored" in unknown.stderr
