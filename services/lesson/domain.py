"""The rules of a lesson: its lifecycle, who may do what, overlaps and weekly series. No I/O."""
from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import Forbidden, InvalidTransition, NotFound, Unprocessable

if TYPE_CHECKING:
    from shared.auth import Principal

DEFAULT_TIMEZONE = "Europe/Moscow"
MIN_DURATION, MAX_DURATION = 15, 480
MAX_WEEKLY_COUNT = 52
MAX_BOOKING_AHEAD = timedelta(days=2 * 366)


class LessonStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class LessonType(StrEnum):
    REGULAR = "regular"
    TRIAL = "trial"
    INTENSIVE = "intensive"
    EXAM_PREP = "exam_prep"


class Attendance(StrEnum):
    PRESENT = "present"
    LATE = "late"
    ABSENT = "absent"
    EXCUSED = "excused"

    @property
    def attended(self) -> bool:
        return self in (Attendance.PRESENT, Attendance.LATE)


# A lesson in one of these states holds its time in the teacher's and the student's schedule.
ACTIVE_STATUSES = (LessonStatus.SCHEDULED, LessonStatus.IN_PROGRESS)

TRANSITIONS: dict[LessonStatus, frozenset[LessonStatus]] = {
    LessonStatus.SCHEDULED: frozenset({LessonStatus.IN_PROGRESS, LessonStatus.CANCELLED}),
    LessonStatus.IN_PROGRESS: frozenset({LessonStatus.COMPLETED, LessonStatus.CANCELLED}),
    LessonStatus.COMPLETED: frozenset(),
    LessonStatus.CANCELLED: frozenset(),
}


def ensure_transition(current: str, target: LessonStatus, verb: str) -> None:
    """Raise 409 naming the current status unless `current -> target` is allowed."""
    if target not in TRANSITIONS[LessonStatus(current)]:
        raise InvalidTransition(f"Cannot {verb} a lesson whose status is '{current}'")


def resolve_attendance(attendance: Attendance | None, attended: bool | None) -> Attendance:
    """The attendance to record: explicit, else from the `attended` flag, else present."""
    if attendance is None:
        return Attendance.PRESENT if attended in (None, True) else Attendance.ABSENT
    if attended is not None and attended != attendance.attended:
        raise Unprocessable("`attended` contradicts `attendance`",
                            errors=[{"loc": ["body", "attended"], "msg": "contradicts attendance"}])
    return attendance


def check_schedulable(starts_at: datetime, duration_minutes: int, now: datetime) -> None:
    """A lesson starts in the next two years, at a time with an offset, and lasts 15..480 minutes."""
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise _invalid("starts_at", "must include a UTC offset")
    if starts_at <= now:
        raise _invalid("starts_at", "must be in the future")
    if starts_at > now + MAX_BOOKING_AHEAD:
        raise _invalid("starts_at", "must be within two years from now")
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise _invalid("duration_minutes", f"must be between {MIN_DURATION} and {MAX_DURATION}")


def _invalid(field: str, msg: str) -> Unprocessable:
    return Unprocessable(f"{field} {msg}", errors=[{"loc": ["body", field], "msg": msg}])


class LessonLifecycle:
    """The state machine of a lesson, mixed into the mapped `Lesson` (models.py).

    Works on the attributes status, starts_at, ends_at, duration_minutes, attendance, score,
    notes, sequence, started_at, completed_at, cancelled_at, cancelled_by, cancelled_by_role,
    cancellation_reason and updated_at.
    """

    def start(self, *, now: datetime) -> None:
        ensure_transition(self.status, LessonStatus.IN_PROGRESS, "start")
        self.status = LessonStatus.IN_PROGRESS
        self.started_at = self.updated_at = now

    def complete(self, *, attendance: Attendance, score: int | None, notes: str | None,
                 now: datetime) -> None:
        ensure_transition(self.status, LessonStatus.COMPLETED, "complete")
        if score is not None and not 0 <= score <= 100:
            raise _invalid("score", "must be between 0 and 100")
        self.status = LessonStatus.COMPLETED
        self.attendance, self.score = attendance, score
        if notes is not None:
            self.notes = notes
        self.completed_at = self.updated_at = now

    def cancel(self, *, by: uuid.UUID, role: str, reason: str, now: datetime) -> None:
        ensure_transition(self.status, LessonStatus.CANCELLED, "cancel")
        if not reason.strip():
            raise _invalid("reason", "must not be blank")
        self.status = LessonStatus.CANCELLED
        self.cancelled_by, self.cancelled_by_role = by, role
        self.cancellation_reason = reason.strip()
        self.cancelled_at = self.updated_at = now
        self.sequence += 1

    def reschedule(self, *, starts_at: datetime, duration_minutes: int, now: datetime) -> datetime:
        """Move a scheduled lesson; returns the old start."""
        if self.status != LessonStatus.SCHEDULED:
            raise InvalidTransition(f"Cannot reschedule a lesson whose status is '{self.status}'")
        check_schedulable(starts_at, duration_minutes, now)
        old = self.starts_at
        self.starts_at = starts_at.astimezone(UTC)
        self.duration_minutes = duration_minutes
        self.ends_at = self.starts_at + timedelta(minutes=duration_minutes)
        self.sequence += 1
        self.updated_at = now
        return old


# --- overlaps --------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """A half-open time range [starts_at, ends_at): back-to-back slots do not overlap."""

    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, starts_at: datetime, duration_minutes: int) -> Slot:
        return cls(starts_at, starts_at + timedelta(minutes=duration_minutes))

    def overlaps(self, other: Slot) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Booked:
    """An existing lesson as the conflict rule sees it."""

    lesson_id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    status: str
    slot: Slot


@dataclass(frozen=True)
class Clash:
    occurrence: int                        # index in the requested series (0 for one lesson)
    wanted: Slot
    lesson_id: uuid.UUID                   # the lesson already holding the time
    busy: Literal["teacher", "student"]


def find_clashes(wanted: Sequence[Slot], *, teacher_id: uuid.UUID, student_id: uuid.UUID,
                 booked: Iterable[Booked], ignore: uuid.UUID | None = None) -> list[Clash]:
    """Every requested slot that overlaps a scheduled or in-progress lesson of either person."""
    holding = [b for b in booked if b.status in ACTIVE_STATUSES and b.lesson_id != ignore]
    clashes = []
    for index, slot in enumerate(wanted):
        for other in holding:
            busy = ("teacher" if other.teacher_id == teacher_id
                    else "student" if other.student_id == student_id else None)
            if busy and slot.overlaps(other.slot):
                clashes.append(Clash(index, slot, other.lesson_id, busy))
    return clashes


# --- weekly series ---------------------------------------------------------------------
def zone(name: str | None) -> ZoneInfo:
    """The IANA zone of that name, or the platform default when it is missing or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def weekly_starts(first: datetime, count: int, tz: ZoneInfo) -> list[datetime]:
    """`count` weekly starts (UTC) at the same wall-clock time in `tz` as `first`.

    A wall time that does not exist on some date (spring-forward gap) resolves with the offset
    in force before the change, as zoneinfo does for `fold=0`.
    """
    if not 1 <= count <= MAX_WEEKLY_COUNT:
        raise _invalid("recurrence", f"weekly_count must be between 1 and {MAX_WEEKLY_COUNT}")
    wall = first.astimezone(tz).replace(tzinfo=None)
    return [(wall + timedelta(weeks=i)).replace(tzinfo=tz).astimezone(UTC)
            for i in range(count)]


# --- who may do what -------------------------------------------------------------------
class Participants(Protocol):
    teacher_id: uuid.UUID
    student_id: uuid.UUID


def may_see(actor: Principal, lesson: Participants, children: Collection[uuid.UUID]) -> bool:
    return (actor.role == "admin" or actor.id in (lesson.teacher_id, lesson.student_id)
            or (actor.role == "parent" and lesson.student_id in children))


def ensure_visible(actor: Principal, lesson: Participants | None,
                   children: Collection[uuid.UUID] = ()) -> None:
    """404 for a lesson that does not exist or that the actor may not see."""
    if lesson is None or not may_see(actor, lesson, children):
        raise NotFound("No such lesson")


def ensure_may_run(actor: Principal, lesson: Participants) -> None:
    """Only the lesson's teacher (or an admin) starts, completes and reschedules it."""
    if not (actor.role == "admin" or actor.id == lesson.teacher_id):
        raise Forbidden("Only the lesson's teacher can do this")


def ensure_may_cancel(actor: Principal, lesson: Participants) -> None:
    if not (actor.role == "admin" or actor.id in (lesson.teacher_id, lesson.student_id)):
        raise Forbidden("Only the lesson's teacher or student can cancel it")


def booking_teacher(actor: Principal, teacher_id: uuid.UUID | None) -> uuid.UUID:
    """Whose lesson a booking makes: a teacher books their own; an admin names the teacher."""
    if actor.role == "admin":
        if teacher_id is None:
            raise _invalid("teacher_id", "is required when an admin books a lesson")
        return teacher_id
    if teacher_id not in (None, actor.id):
        raise Forbidden("A teacher books only their own lessons")
    return actor.id
