"""Tables of the lesson service, and its read model of people (`shared.people`).

No two scheduled or in-progress lessons of one teacher (or of one student) may overlap. On
PostgreSQL the database itself enforces that with two exclusion constraints on `lessons`
(GiST over `tstzrange(starts_at, ends_at, '[)')`, needing `btree_gist`); SQLAlchemy cannot
express them portably, so they live in the migration. See `service.py` for the SQLite side.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.lesson.domain import LessonLifecycle, LessonStatus
from shared.events import utcnow
from shared.idempotency import IdempotencyKeyMixin
from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, UtcDateTime, new_metadata


class LessonBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Lesson(LessonLifecycle, LessonBase):
    __tablename__ = "lessons"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    subject: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    lesson_type: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default=LessonStatus.SCHEDULED)
    attendance: Mapped[str | None] = mapped_column(String(20))
    score: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    series_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    cancelled_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    cancelled_by_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_lessons_teacher_starts", "teacher_id", "starts_at"),
        Index("ix_lessons_student_starts", "student_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("status IN ('scheduled', 'in_progress', 'completed', 'cancelled')",
                        name="known_status"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score_range"),
    )


class CalendarFeed(LessonBase):
    """A user's private iCalendar feed; only the hash of its token is kept."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyKey(IdempotencyKeyMixin, LessonBase):
    """The answers to create requests, by the caller's `Idempotency-Key` (`shared.idempotency`)."""


# --- the read model of people (shared.people) ----------------------------------------------
class KnownUser(UserColumns, LessonBase):
    pass


class TeacherLink(TeacherLinkColumns, LessonBase):
    pass


class ParentLink(ParentLinkColumns, LessonBase):
    pass
