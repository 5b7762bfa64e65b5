"""The event envelope and the typed payload of every event in the catalog."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared import context, tracing

EXCHANGE = "repitbot.events"
DEAD_LETTER_EXCHANGE = "repitbot.dlx"
P = TypeVar("P", bound="Payload")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """The envelope every event travels in; the catalog of payloads is the rest of this module
    (docs/events.md says who produces and who consumes each)."""

    model_config = ConfigDict(extra="allow")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str
    correlation_id: str | None = None
    causation_id: uuid.UUID | None = None
    payload: dict[str, Any]

    def payload_as(self, model: type[P]) -> P:
        """The payload as `model`, the payload model of this event's type (pydantic's
        ValidationError when it does not fit: the consumer parks such a message at once)."""
        if model.event_type != self.type:
            raise TypeError(f"a {self.type} event has no {model.__name__} payload")
        return model.model_validate(self.payload)


def log_fields(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    """What a log line about one event says of it: an `Event`, or an envelope as stored."""
    if isinstance(event, Event):
        return {"event_type": event.type, "event_id": str(event.id), "correlation_id": event.correlation_id,
                "causation_id": str(event.causation_id) if event.causation_id else None}
    return {"event_type": event["type"], "event_id": str(event["id"]),
            "correlation_id": event.get("correlation_id"), "causation_id": event.get("causation_id")}


class Payload(BaseModel):
    model_config = ConfigDict(extra="allow")
    event_type: ClassVar[str]


PAYLOADS: dict[str, type[Payload]] = {}


def payload_model(event_type: str) -> type[Payload]:
    """The payload model of an event type of the catalog (KeyError for an unknown type)."""
    return PAYLOADS[event_type]


def _event(event_type: str):
    def register(cls: type[P]) -> type[P]:
        cls.event_type = event_type
        PAYLOADS[event_type] = cls
        return cls
    return register


def make_event(payload: Payload, *, producer: str, occurred_at: datetime | None = None) -> Event:
    """Wrap a payload in an envelope that continues the current correlation chain (and trace)."""
    return Event(
        type=payload.event_type,
        producer=producer,
        occurred_at=occurred_at or utcnow(),
        correlation_id=context.current_correlation_id(),
        causation_id=context.causation_id.get(),
        payload=payload.model_dump(mode="json"),
        **tracing.current_fields(),
    )


Role = Literal["admin", "teacher", "student", "parent"]
LessonType = Literal["regular", "trial", "intensive", "exam_prep"]


# --- user -------------------------------------------------------------------------------
@_event("user.created")
class UserCreated(Payload):
    user_id: uuid.UUID
    role: Role
    full_name: str
    email: str
    timezone: str = "Europe/Moscow"
    locale: str = "ru"


@_event("user.updated")
class UserUpdated(Payload):
    user_id: uuid.UUID
    changed: dict[str, Any]


@_event("user.teacher_linked")
class TeacherLinked(Payload):
    teacher_id: uuid.UUID
    student_id: uuid.UUID


@_event("user.parent_linked")
class ParentLinked(Payload):
    parent_id: uuid.UUID
    student_id: uuid.UUID


@_event("user.teacher_unlinked")
class TeacherUnlinked(Payload):
    teacher_id: uuid.UUID
    student_id: uuid.UUID


@_event("user.parent_unlinked")
class ParentUnlinked(Payload):
    parent_id: uuid.UUID
    student_id: uuid.UUID


@_event("user.deactivated")
class UserDeactivated(Payload):
    """An admin switched the account off: its tokens and calendar feeds stop working."""
    user_id: uuid.UUID


@_event("user.deleted")
class UserDeleted(Payload):
    """The owner deleted the account: consumers erase or anonymise what they hold of it
    (docs/security.md, "Account deletion")."""
    user_id: uuid.UUID


@_event("user.telegram_linked")
class TelegramLinked(Payload):
    user_id: uuid.UUID
    telegram_chat_id: int


# --- lesson -----------------------------------------------------------------------------
@_event("lesson.scheduled")
class LessonScheduled(Payload):
    lesson_id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    subject: str
    title: str | None = None
    starts_at: datetime
    duration_minutes: int
    series_id: uuid.UUID | None = None


@_event("lesson.rescheduled")
class LessonRescheduled(Payload):
    lesson_id: uuid.UUID
    teacher_id: uuid.UUID | None = None
    student_id: uuid.UUID | None = None
    old_starts_at: datetime
    starts_at: datetime
    duration_minutes: int | None = None


@_event("lesson.started")
class LessonStarted(Payload):
    lesson_id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID


@_event("lesson.completed")
class LessonCompleted(Payload):
    lesson_id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    subject: str
    lesson_type: LessonType = "regular"
    starts_at: datetime
    duration_minutes: int
    score: int | None = None
    attended: bool = True
    attendance: str | None = None
    price: int | None = None
    currency: str = "RUB"


@_event("lesson.cancelled")
class LessonCancelled(Payload):
    lesson_id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    cancelled_by: uuid.UUID
    reason: str
    starts_at: datetime


# --- homework ---------------------------------------------------------------------------
@_event("homework.assigned")
class HomeworkAssigned(Payload):
    homework_id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    title: str
    due_at: datetime


@_event("homework.submitted")
class HomeworkSubmitted(Payload):
    homework_id: uuid.UUID
    student_id: uuid.UUID
    teacher_id: uuid.UUID
    submitted_at: datetime
    due_at: datetime
    on_time: bool


@_event("homework.graded")
class HomeworkGraded(Payload):
    homework_id: uuid.UUID
    student_id: uuid.UUID
    teacher_id: uuid.UUID
    score: int
    max_score: int


@_event("homework.updated")
class HomeworkUpdated(Payload):
    """The teacher changed a homework (its due time, say); the payload is its state now."""

    homework_id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    title: str
    due_at: datetime
    max_score: int


# --- payment ----------------------------------------------------------------------------
@_event("payment.completed")
class PaymentCompleted(Payload):
    payment_id: uuid.UUID
    student_id: uuid.UUID
    payer_id: uuid.UUID
    amount: int
    currency: str = "RUB"
    provider: str
    teacher_id: uuid.UUID | None = None   # the account's teacher: money paid to one tutor stays theirs


@_event("payment.refunded")
class PaymentRefunded(Payload):
    payment_id: uuid.UUID
    student_id: uuid.UUID
    amount: int
    currency: str = "RUB"
    teacher_id: uuid.UUID | None = None


@_event("balance.updated")
class BalanceUpdated(Payload):
    student_id: uuid.UUID
    balance: int
    currency: str = "RUB"
    reason: str
    transaction_id: uuid.UUID
    # the account (one per student and teacher) and its low-balance state after this entry;
    # `low_balance_crossed` is true once per crossing under the teacher's `threshold`
    teacher_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    low_balance: bool | None = None
    low_balance_crossed: bool | None = None
    threshold: int | None = None


# --- student ----------------------------------------------------------------------------
@_event("student.level_up")
class StudentLevelUp(Payload):
    student_id: uuid.UUID
    old_level: int
    new_level: int
    xp: int


@_event("achievement.earned")
class AchievementEarned(Payload):
    student_id: uuid.UUID
    code: str
    title: str
    tier: Literal["common", "rare", "epic", "legendary"]
    earned_at: datetime


@_event("xp.earned")
class XpEarned(Payload):
    student_id: uuid.UUID
    amount: int
    source: str
    source_event_id: uuid.UUID | None = None
    total_xp: int
    rule: str | None = None


# --- material, dictionary, notification -------------------------------------------------
class _MaterialDescribed(Payload):
    material_id: uuid.UUID
    teacher_id: uuid.UUID
    subject: str
    grade_level: int | None = None
    visibility: Literal["private", "students", "public"]
    title: str | None = None


@_event("material.uploaded")
class MaterialUploaded(_MaterialDescribed):
    pass


@_event("material.updated")
class MaterialUpdated(_MaterialDescribed):
    """Its owner changed what describes it (who sees it, too): the same fields as `material.uploaded`."""


@_event("material.deleted")
class MaterialDeleted(Payload):
    material_id: uuid.UUID
    teacher_id: uuid.UUID


@_event("material.studied")
class MaterialStudied(Payload):
    material_id: uuid.UUID
    student_id: uuid.UUID
    subject: str


@_event("dictionary.card_reviewed")
class CardReviewed(Payload):
    card_id: uuid.UUID
    deck_id: uuid.UUID
    student_id: uuid.UUID
    rating: Literal["again", "hard", "good", "easy"]
    reviewed_at: datetime
    learned: bool


@_event("notification.sent")
class NotificationSent(Payload):
    notification_id: uuid.UUID
    user_id: uuid.UUID
    channel: str
    kind: str


__all__ = ["DEAD_LETTER_EXCHANGE", "EXCHANGE", "PAYLOADS", "Event", "Payload", "make_event", "utcnow"]
