"""Tables of the notification service: the inbox, deliveries per channel, preferences,
lesson reminders, and the read model of people learned from events."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, Uuid, true
from sqlalchemy.orm import Mapped, mapped_column

from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, JSONType, UtcDateTime, new_metadata


class NotificationBase(Base):
    __abstract__ = True
    metadata = new_metadata()


# --- read models --------------------------------------------------------------------------
class Contact(UserColumns, NotificationBase):
    """What we know of a person (shared.people), and how to reach them."""

    email: Mapped[str | None] = mapped_column(String(320))
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # false while an admin has the account switched off: nothing is sent to it
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class TeacherLink(TeacherLinkColumns, NotificationBase):
    pass


class ParentLink(ParentLinkColumns, NotificationBase):
    pass


class Lesson(NotificationBase):
    __tablename__ = "lessons"

    lesson_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    subject: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str | None] = mapped_column(String(300))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")  # scheduled|cancelled|completed


class Homework(NotificationBase):
    __tablename__ = "homework"

    homework_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    # known from homework.assigned (older rows have none): whom to remind, and by when
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(20), default="open", server_default="open")  # open|submitted|graded


class BalanceMark(NotificationBase):
    """The last balance seen per student, to tell only when it goes down under the threshold."""

    __tablename__ = "balances"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)


# --- reminders ----------------------------------------------------------------------------
class Reminder(NotificationBase):
    """One reminder of one lesson, `offset_minutes` before it starts."""

    __tablename__ = "reminders"
    __table_args__ = (Index("ix_reminders_state_due_at", "state", "due_at"),)

    lesson_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("lessons.lesson_id", ondelete="CASCADE"),
                                                 primary_key=True)
    offset_minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|stale|cancelled
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class HomeworkReminder(NotificationBase):
    """The reminder of one homework, `HOMEWORK_REMINDER_MINUTES` before it is due."""

    __tablename__ = "homework_reminders"
    __table_args__ = (Index("ix_homework_reminders_state_due_at", "state", "due_at"),)

    homework_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("homework.homework_id", ondelete="CASCADE"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sent|stale|cancelled
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- the inbox and its deliveries ---------------------------------------------------------
class Notification(NotificationBase):
    """An in-app notification; `dedupe_key` makes the same news land once per person."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict] = mapped_column(JSONType)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Delivery(NotificationBase):
    """A notification on one external channel: due, sending (leased), sent, failed or skipped."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_due_at", "status", "due_at"),
        Index("uq_deliveries_notification_channel", "notification_id", "channel", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notifications.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deliver_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Preference(NotificationBase):
    __tablename__ = "preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    channels: Mapped[dict] = mapped_column(JSONType, default=dict)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
