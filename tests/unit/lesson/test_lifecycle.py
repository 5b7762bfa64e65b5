import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from services.lesson.domain import (
    TRANSITIONS,
    Attendance,
    LessonLifecycle,
    LessonStatus,
    ensure_transition,
    resolve_attendance,
)
from shared.errors import InvalidTransition, Unprocessable

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
START = NOW + timedelta(days=1)


@dataclass
class PlainLesson(LessonLifecycle):
    status: str = LessonStatus.SCHEDULED
    starts_at: datetime = START
    ends_at: datetime = START + timedelta(minutes=60)
    duration_minutes: int = 60
    attendance: str | None = None
    score: int | None = None
    notes: str | None = None
    sequence: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancelled_by: uuid.UUID | None = None
    cancelled_by_role: str | None = None
    cancellation_reason: str | None = None
    updated_at: datetime | None = None
    teacher_id: uuid.UUID = field(default_factory=uuid.uuid4)


ALLOWED = [(a, b) for a in LessonStatus for b in LessonStatus if b in TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a in LessonStatus for b in LessonStatus if b not in TRANSITIONS[a]]


def test_the_lifecycle_is_scheduled_then_in_progress_then_completed_with_cancel_from_both_active_states():
    assert set(ALLOWED) == {
        (LessonStatus.SCHEDULED, LessonStatus.IN_PROGRESS),
        (LessonStatus.SCHEDULED, LessonStatus.CANCELLED),
        (LessonStatus.IN_PROGRESS, LessonStatus.COMPLETED),
        (LessonStatus.IN_PROGRESS, LessonStatus.CANCELLED),
    }


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_every_other_transition_is_a_conflict_naming_the_current_status(current, target):
    with pytest.raises(InvalidTransition) as raised:
        ensure_transition(current, target, "do that to")
    assert raised.value.status == 409
    assert f"'{current}'" in raised.value.detail


def test_starting_a_scheduled_lesson_puts_it_in_progress():
    lesson = PlainLesson()
    lesson.start(now=NOW)
    assert (lesson.status, lesson.started_at, lesson.updated_at) == (LessonStatus.IN_PROGRESS, NOW, NOW)


def test_completing_records_attendance_score_and_notes():
    lesson = PlainLesson(status=LessonStatus.IN_PROGRESS)
    lesson.complete(attendance=Attendance.LATE, score=87, notes="worked on fractions", now=NOW)
    assert lesson.status == LessonStatus.COMPLETED
    assert (lesson.attendance, lesson.score, lesson.notes, lesson.completed_at) == \
        (Attendance.LATE, 87, "worked on fractions", NOW)


def test_completing_without_notes_keeps_the_notes_made_when_booking():
    lesson = PlainLesson(status=LessonStatus.IN_PROGRESS, notes="bring the textbook")
    lesson.complete(attendance=Attendance.PRESENT, score=None, notes=None, now=NOW)
    assert lesson.notes == "bring the textbook"


def test_completing_a_scheduled_lesson_that_never_started_is_a_conflict():
    with pytest.raises(InvalidTransition, match="'scheduled'"):
        PlainLesson().complete(attendance=Attendance.PRESENT, score=None, notes=None, now=NOW)


def test_completing_a_cancelled_lesson_is_a_conflict():
    with pytest.raises(InvalidTransition, match="'cancelled'"):
        PlainLesson(status=LessonStatus.CANCELLED).complete(
            attendance=Attendance.PRESENT, score=None, notes=None, now=NOW)


@pytest.mark.parametrize("score", [-1, 101])
def test_a_score_outside_0_to_100_is_refused(score):
    with pytest.raises(Unprocessable):
        PlainLesson(status=LessonStatus.IN_PROGRESS).complete(
            attendance=Attendance.PRESENT, score=score, notes=None, now=NOW)


@pytest.mark.parametrize("status", [LessonStatus.SCHEDULED, LessonStatus.IN_PROGRESS])
def test_an_active_lesson_can_be_cancelled_with_a_reason_and_who_cancelled(status):
    who = uuid.uuid4()
    lesson = PlainLesson(status=status)
    lesson.cancel(by=who, role="student", reason="  sick  ", now=NOW)
    assert lesson.status == LessonStatus.CANCELLED
    assert (lesson.cancelled_by, lesson.cancelled_by_role, lesson.cancellation_reason) == (who, "student", "sick")
    assert lesson.sequence == 1  # calendar apps see the change


@pytest.mark.parametrize("status", [LessonStatus.COMPLETED, LessonStatus.CANCELLED])
def test_a_finished_lesson_cannot_be_cancelled(status):
    with pytest.raises(InvalidTransition, match=f"'{status}'"):
        PlainLesson(status=status).cancel(by=uuid.uuid4(), role="teacher", reason="x", now=NOW)


def test_a_blank_cancellation_reason_is_refused():
    with pytest.raises(Unprocessable):
        PlainLesson().cancel(by=uuid.uuid4(), role="teacher", reason="   ", now=NOW)


def test_rescheduling_moves_the_lesson_and_bumps_its_sequence():
    lesson = PlainLesson()
    new_start = START + timedelta(days=2)
    old = lesson.reschedule(starts_at=new_start, duration_minutes=90, now=NOW)
    assert old == START
    assert (lesson.starts_at, lesson.ends_at, lesson.duration_minutes) == \
        (new_start, new_start + timedelta(minutes=90), 90)
    assert lesson.sequence == 1


@pytest.mark.parametrize("status", [LessonStatus.IN_PROGRESS, LessonStatus.COMPLETED, LessonStatus.CANCELLED])
def test_only_a_scheduled_lesson_can_be_rescheduled(status):
    with pytest.raises(InvalidTransition, match=f"'{status}'"):
        PlainLesson(status=status).reschedule(starts_at=START + timedelta(days=1), duration_minutes=60, now=NOW)


def test_rescheduling_into_the_past_is_refused():
    with pytest.raises(Unprocessable, match="future"):
        PlainLesson().reschedule(starts_at=NOW - timedelta(minutes=1), duration_minutes=60, now=NOW)


@pytest.mark.parametrize(("attendance", "attended"), [
    (Attendance.PRESENT, True), (Attendance.LATE, True), (Attendance.ABSENT, False), (Attendance.EXCUSED, False)])
def test_present_and_late_count_as_attended_absent_and_excused_do_not(attendance, attended):
    assert attendance.attended is attended


@pytest.mark.parametrize(("attendance", "attended", "expected"), [
    (None, None, Attendance.PRESENT),
    (None, True, Attendance.PRESENT),
    (None, False, Attendance.ABSENT),
    (Attendance.EXCUSED, None, Attendance.EXCUSED),
    (Attendance.LATE, True, Attendance.LATE),
])
def test_attendance_comes_from_the_explicit_value_or_the_attended_flag(attendance, attended, expected):
    assert resolve_attendance(attendance, attended) == expected


def test_an_attended_flag_contradicting_the_attendance_is_refused():
    with pytest.raises(Unprocessable):
        resolve_attendance(Attendance.ABSENT, True)
