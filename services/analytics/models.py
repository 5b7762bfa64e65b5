"""The analytics service's tables, on its own metadata: no other service reads them. After a
change, `repitbot makemigrations analytics -m "what changed"` writes the migration.

`stored_events` is the platform's history, append-only: every event of the bus, once. The other
tables are read models, projections of that history (`projection.py`): `repitbot analytics
rebuild` empties them (`READ_MODELS`) and replays the store into them.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.events import utcnow
from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, JSONType, UtcDateTime, new_metadata

SERIAL = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


class AnalyticsBase(Base):
    __abstract__ = True
    metadata = new_metadata()


# --- the event store ------------------------------------------------------------------------
class StoredEvent(AnalyticsBase):
    """Every event once (`event_id` is unique), in the order stored (`seq`)."""

    __tablename__ = "stored_events"
    __table_args__ = (
        Index("ix_stored_events_type_occurred", "type", "occurred_at"),
        Index("ix_stored_events_teacher_occurred", "teacher_id", "occurred_at"),
        Index("ix_stored_events_student_occurred", "student_id", "occurred_at"),
    )

    seq: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True)
    type: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=1)
    producer: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    correlation_id: Mapped[str | None] = mapped_column(String(100))
    causation_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[dict] = mapped_column(JSONType)


# --- read models ------------------------------------------------------------------------------
class LessonFact(AnalyticsBase):
    """One row per lesson, in its latest state."""

    __tablename__ = "lesson_facts"
    __table_args__ = (
        Index("ix_lesson_facts_teacher_starts", "teacher_id", "starts_at"),
        Index("ix_lesson_facts_student_starts", "student_id", "starts_at"),
    )

    lesson_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    subject: Mapped[str | None] = mapped_column(String(200))
    lesson_type: Mapped[str | None] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))           # scheduled, in_progress, completed, cancelled
    attended: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    cancelled_by_role: Mapped[str | None] = mapped_column(String(20))
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)   # completed or cancelled


class HomeworkFact(AnalyticsBase):
    """One row per homework: assigned, submitted (on time or not), graded."""

    __tablename__ = "homework_facts"
    __table_args__ = (
        Index("ix_homework_facts_teacher_due", "teacher_id", "due_at"),
        Index("ix_homework_facts_student_due", "student_id", "due_at"),
        Index("ix_homework_facts_student_graded", "student_id", "graded_at"),   # the last scores
    )

    homework_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    title: Mapped[str | None] = mapped_column(String(300))
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)
    max_score: Mapped[int | None] = mapped_column(Integer)
    graded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MoneyEntry(AnalyticsBase):
    """Money received: a payment (positive) or a refund (negative), one row per event. The teacher
    is the payment's when its event names one; otherwise income is the student's teachers'."""

    __tablename__ = "money"
    __table_args__ = (
        Index("ix_money_teacher_at", "teacher_id", "at"),
        Index("ix_money_student_at", "student_id", "at"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))            # payment, refund
    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    payer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    teacher_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str | None] = mapped_column(String(50))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Balance(AnalyticsBase):
    """A student's balance as last told (`balance.updated`); below zero it is a debt."""

    __tablename__ = "balances"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Activity(AnalyticsBase):
    """What a student did, one row per event: lessons attended, homework handed in, XP earned,
    cards reviewed, materials studied. Weeks, streaks and "active" are counted from it."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_student_at", "student_id", "at"),)

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(30))
    xp: Mapped[int] = mapped_column(Integer, default=0)


class StudentTotals(AnalyticsBase):
    """A student's XP and level: the highest told (neither goes down)."""

    __tablename__ = "student_totals"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    total_xp: Mapped[int] = mapped_column(BigInteger, default=0)
    level: Mapped[int] = mapped_column(Integer, default=1)


class LearnedWord(AnalyticsBase):
    """A card the student has learned (the first review that said so)."""

    __tablename__ = "learned_words"
    __table_args__ = (Index("ix_learned_words_student", "student_id", "learned_at"),)

    card_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    learned_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StudiedMaterial(AnalyticsBase):
    __tablename__ = "studied_materials"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    material_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    studied_at: Mapped[datetime] = mapped_column(UtcDateTime)


READ_MODELS = (LessonFact, HomeworkFact, MoneyEntry, Balance, Activity, StudentTotals, LearnedWord, StudiedMaterial)


# --- people (shared.people) ---------------------------------------------------------------------
class KnownUser(UserColumns, AnalyticsBase):
    pass


class TeacherLink(TeacherLinkColumns, AnalyticsBase):
    pass


class ParentLink(ParentLinkColumns, AnalyticsBase):
    pass
