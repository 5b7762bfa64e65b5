"""The analytics service's rules, in plain functions without I/O: what an event changes in the read
models (`writes_of`), and how weeks, rates, streaks and risk are counted from them."""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from shared.events import (
    BalanceUpdated,
    CardReviewed,
    Event,
    HomeworkAssigned,
    HomeworkGraded,
    HomeworkSubmitted,
    HomeworkUpdated,
    LessonCancelled,
    LessonCompleted,
    LessonRescheduled,
    LessonScheduled,
    LessonStarted,
    MaterialStudied,
    PaymentCompleted,
    PaymentRefunded,
    StudentLevelUp,
    XpEarned,
    payload_model,
)

DEFAULT_ZONE = "Europe/Moscow"
ACTIVE_DAYS = 14            # a student with nothing for this long is inactive, and at risk
FALLING_WINDOW = 3          # the last three scores against the three before them
FALLING_DROP = 10.0         # percentage points that make scores "falling"

Write = tuple[str, dict[str, Any]]   # (what to do, its parameters): see projection.STATEMENTS


class UnreadablePayload(Exception):
    """A catalog event whose payload does not fit its model: stored, not projected."""


def concerns(event: Event) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The teacher and the student an event is about, when its payload names them."""
    return _uuid(event.payload.get("teacher_id")), _uuid(event.payload.get("student_id"))


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def writes_of(event: Event) -> list[Write]:
    """What one event changes in the read models, in order. Every write is an idempotent upsert or
    an insert keyed by the event, so the same history gives the same tables however it is cut in
    batches; the live consumer and `rebuild` both apply the store through this one function."""
    project = _PROJECTIONS.get(event.type)
    if project is None:
        return []
    try:
        payload = event.payload_as(payload_model(event.type))
    except ValidationError as exc:
        raise UnreadablePayload(f"{event.type} {event.id}: {exc.error_count()} invalid fields") from exc
    return project(event, payload)


def _lesson_scheduled(event: Event, p: LessonScheduled) -> list[Write]:
    return [("lesson_scheduled", {
        "lesson_id": p.lesson_id, "teacher_id": p.teacher_id, "student_id": p.student_id, "subject": p.subject,
        "lesson_type": event.payload.get("lesson_type"), "starts_at": p.starts_at,
        "duration_minutes": p.duration_minutes, "status": "scheduled", "price": event.payload.get("price"),
        "currency": event.payload.get("currency")})]


def _lesson_rescheduled(event: Event, p: LessonRescheduled) -> list[Write]:
    return [("lesson_rescheduled", {"lesson_id": p.lesson_id, "starts_at": p.starts_at,
                                    "duration_minutes": p.duration_minutes})]


def _lesson_started(event: Event, p: LessonStarted) -> list[Write]:
    return [("lesson_started", {"lesson_id": p.lesson_id})]


def _lesson_completed(event: Event, p: LessonCompleted) -> list[Write]:
    writes: list[Write] = [("lesson_ended", {
        "lesson_id": p.lesson_id, "teacher_id": p.teacher_id, "student_id": p.student_id, "subject": p.subject,
        "lesson_type": p.lesson_type, "starts_at": p.starts_at, "duration_minutes": p.duration_minutes,
        "status": "completed", "attended": p.attended, "score": p.score, "price": p.price,
        "currency": p.currency if p.price is not None else None, "cancelled_by_role": None,
        "ended_at": event.occurred_at})]
    if p.attended:
        writes.append(_activity(event, p.student_id, "lesson"))
    return writes


def _lesson_cancelled(event: Event, p: LessonCancelled) -> list[Write]:
    return [("lesson_ended", {
        "lesson_id": p.lesson_id, "teacher_id": p.teacher_id, "student_id": p.student_id,
        "subject": event.payload.get("subject"), "lesson_type": event.payload.get("lesson_type"),
        "starts_at": p.starts_at, "duration_minutes": event.payload.get("duration_minutes"),
        "status": "cancelled", "attended": None, "score": None, "price": event.payload.get("price"),
        "currency": event.payload.get("currency"), "cancelled_by_role": cancelled_by_role(event, p),
        "ended_at": event.occurred_at})]


def cancelled_by_role(event: Event, p: LessonCancelled) -> str:
    """Who cancelled: the role the lesson service names, else which side of the lesson it was."""
    role = event.payload.get("cancelled_by_role")
    if isinstance(role, str) and role:
        return role
    if p.cancelled_by == p.teacher_id:
        return "teacher"
    return "student" if p.cancelled_by == p.student_id else "other"


def _homework_assigned(event: Event, p: HomeworkAssigned) -> list[Write]:
    return [("homework_assigned", {"homework_id": p.homework_id, "teacher_id": p.teacher_id,
                                   "student_id": p.student_id, "title": p.title[:300],
                                   "assigned_at": event.occurred_at, "due_at": p.due_at})]


def _homework_updated(event: Event, p: HomeworkUpdated) -> list[Write]:
    return [("homework_updated", {"homework_id": p.homework_id, "teacher_id": p.teacher_id,
                                  "student_id": p.student_id, "title": p.title[:300], "due_at": p.due_at})]


def _homework_submitted(event: Event, p: HomeworkSubmitted) -> list[Write]:
    return [("homework_submitted", {"homework_id": p.homework_id, "teacher_id": p.teacher_id,
                                    "student_id": p.student_id, "due_at": p.due_at,
                                    "submitted_at": p.submitted_at, "on_time": p.on_time}),
            _activity(event, p.student_id, "homework")]


def _homework_graded(event: Event, p: HomeworkGraded) -> list[Write]:
    return [("homework_graded", {"homework_id": p.homework_id, "teacher_id": p.teacher_id,
                                 "student_id": p.student_id, "score": p.score, "max_score": p.max_score,
                                 "graded_at": event.occurred_at})]


def _payment_completed(event: Event, p: PaymentCompleted) -> list[Write]:
    return [("money", {"event_id": event.id, "kind": "payment", "payment_id": p.payment_id,
                       "student_id": p.student_id, "payer_id": p.payer_id,
                       "teacher_id": _uuid(event.payload.get("teacher_id")), "amount": p.amount,
                       "currency": p.currency, "provider": p.provider, "at": event.occurred_at})]


def _payment_refunded(event: Event, p: PaymentRefunded) -> list[Write]:
    return [("refund", {"event_id": event.id, "kind": "refund", "payment_id": p.payment_id,
                        "student_id": p.student_id, "payer_id": None,
                        "teacher_id": _uuid(event.payload.get("teacher_id")), "amount": -p.amount,
                        "currency": p.currency, "provider": None, "at": event.occurred_at})]


def _balance_updated(event: Event, p: BalanceUpdated) -> list[Write]:
    return [("balance", {"student_id": p.student_id, "balance": p.balance, "currency": p.currency,
                         "at": event.occurred_at})]


def _xp_earned(event: Event, p: XpEarned) -> list[Write]:
    return [("activity", {"event_id": event.id, "student_id": p.student_id, "at": event.occurred_at,
                          "kind": "xp", "xp": p.amount}),
            ("totals", {"student_id": p.student_id, "total_xp": p.total_xp, "level": 1})]


def _level_up(event: Event, p: StudentLevelUp) -> list[Write]:
    return [("totals", {"student_id": p.student_id, "total_xp": p.xp, "level": p.new_level})]


def _card_reviewed(event: Event, p: CardReviewed) -> list[Write]:
    writes = [_activity(event, p.student_id, "review")]
    if p.learned:
        writes.append(("learned_word", {"card_id": p.card_id, "student_id": p.student_id,
                                        "learned_at": p.reviewed_at}))
    return writes


def _material_studied(event: Event, p: MaterialStudied) -> list[Write]:
    return [_activity(event, p.student_id, "material"),
            ("studied_material", {"student_id": p.student_id, "material_id": p.material_id,
                                  "studied_at": event.occurred_at})]


def _activity(event: Event, student_id: uuid.UUID, kind: str) -> Write:
    return ("activity", {"event_id": event.id, "student_id": student_id, "at": event.occurred_at,
                         "kind": kind, "xp": 0})


_PROJECTIONS: dict[str, Any] = {
    "lesson.scheduled": _lesson_scheduled, "lesson.rescheduled": _lesson_rescheduled,
    "lesson.started": _lesson_started, "lesson.completed": _lesson_completed,
    "lesson.cancelled": _lesson_cancelled, "homework.assigned": _homework_assigned,
    "homework.updated": _homework_updated, "homework.submitted": _homework_submitted, "homework.graded": _homework_graded,
    "payment.completed": _payment_completed, "payment.refunded": _payment_refunded,
    "balance.updated": _balance_updated, "xp.earned": _xp_earned, "student.level_up": _level_up,
    "dictionary.card_reviewed": _card_reviewed, "material.studied": _material_studied,
}


# --- counting -----------------------------------------------------------------------------------
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def week_of(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday of the moment's week, in the viewer's zone."""
    return monday_of(moment.astimezone(tz).date())


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def month_of(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date().replace(day=1)


def weeks_between(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """Every week (its Monday) that the range [start, end) touches, in order."""
    first, last = week_of(start, tz), week_of(end - timedelta(microseconds=1), tz)
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def months_between(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    month, last = month_of(start, tz), month_of(end - timedelta(microseconds=1), tz)
    months = []
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to three places; None when there is nothing to divide."""
    return round(part / whole, 3) if whole else None


def percent(score: int | None, max_score: int | None) -> float | None:
    if score is None or not max_score:
        return None
    return round(100.0 * score / max_score, 1)


def streak(days: Iterable[date], today: date) -> int:
    """Consecutive days with activity, ending today (or yesterday, when today is not over yet)."""
    active = set(days)
    day = today if today in active else today - timedelta(days=1)
    count = 0
    while day in active:
        count += 1
        day -= timedelta(days=1)
    return count


def falling(scores: Sequence[float]) -> bool:
    """Whether the last scores (oldest first) fell: the mean of the last three is at least
    FALLING_DROP points below the mean of the three before them."""
    if len(scores) < 2 * FALLING_WINDOW:
        return False
    recent, before = scores[-FALLING_WINDOW:], scores[-2 * FALLING_WINDOW:-FALLING_WINDOW]
    return sum(before) / FALLING_WINDOW - sum(recent) / FALLING_WINDOW >= FALLING_DROP


@dataclass(frozen=True)
class Risk:
    inactive: bool
    falling_scores: bool

    @property
    def at_risk(self) -> bool:
        return self.inactive or self.falling_scores


def risk_of(last_activity: datetime | None, scores: Sequence[float], now: datetime) -> Risk:
    inactive = last_activity is None or now - last_activity >= timedelta(days=ACTIVE_DAYS)
    return Risk(inactive=inactive, falling_scores=falling(scores))


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class BadWindow(ValueError):
    """A range that cannot be read: `field` is the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def window(start: datetime | None, end: datetime | None, weeks: int | None, *, now: datetime, tz: ZoneInfo,
           default_weeks: int, max_days: int) -> tuple[datetime, datetime]:
    """The range [start, end) a request asks for: `from`/`to` as given, or the last `weeks` whole
    weeks up to the end of this one in the viewer's zone (`default_weeks` when neither is given)."""
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and not EARLIEST <= moment <= LATEST:
            raise BadWindow(name, f"must be between {EARLIEST:%Y} and {LATEST:%Y}")
    if start is None or end is None:
        this_week = datetime.combine(week_of(now, tz), datetime.min.time(), tzinfo=tz)
        span = timedelta(weeks=weeks or default_weeks)
        if end is None:
            end = start + span if start is not None else this_week + timedelta(weeks=1)
        if start is None:
            start = end - span
    if end <= start:
        raise BadWindow("to", "must be after from")
    if end - start > timedelta(days=max_days):
        raise BadWindow("from", f"the range may span at most {max_days} days")
    return utc(start), utc(end)
