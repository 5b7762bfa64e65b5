"""The homework service's tables, on its own metadata: no other service reads them. After a
change, `repitbot makemigrations homework -m "what changed"` writes the migration.

A homework keeps its whole history: every submission (the latest counts), every grade (a
second one is a re-grade), and every file, the teacher's task sheets (`submission_id` null)
and the student's answers. File bytes are in `shared.storage`, by content hash.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from services.homework.domain import HomeworkStatus
from shared.events import utcnow
from shared.idempotency import IdempotencyKeyMixin
from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, UtcDateTime, new_metadata


class HomeworkBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Homework(HomeworkBase):
    __tablename__ = "homework"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    lesson_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)   # assigned in one request to several students
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    max_score: Mapped[int] = mapped_column(Integer, default=100)
    status: Mapped[str] = mapped_column(String(20), default=HomeworkStatus.ASSIGNED)  # stored: not overdue
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)   # of the latest submission
    on_time: Mapped[bool | None] = mapped_column()                       # of the latest submission
    score: Mapped[int | None] = mapped_column(Integer)                    # of the latest grade
    feedback: Mapped[str | None] = mapped_column(Text)
    graded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_homework_teacher_created", "teacher_id", "created_at", "id"),
        Index("ix_homework_student_created", "student_id", "created_at", "id"),
        Index("ix_homework_student_due", "student_id", "due_at", "id"),
        CheckConstraint("status IN ('assigned', 'submitted', 'graded')", name="known_status"),
        CheckConstraint("max_score >= 1", name="max_score_positive"),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= max_score)", name="score_range"),
    )


class Submission(HomeworkBase):
    """One hand-in of the student; the latest counts."""

    __tablename__ = "submissions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    homework_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("homework.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)   # 1, 2, ... in the order they came
    text: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    on_time: Mapped[bool] = mapped_column()


class Grade(HomeworkBase):
    """One grade; more than one on a homework is a re-grade history."""

    __tablename__ = "grades"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    homework_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("homework.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("submissions.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer)
    feedback: Mapped[str | None] = mapped_column(Text)
    graded_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    graded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HomeworkFile(HomeworkBase):
    """A file of a homework: a task sheet of the teacher, or part of a submission."""

    __tablename__ = "homework_files"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    homework_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("homework.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)   # its place among the files sent together
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyKey(IdempotencyKeyMixin, HomeworkBase):
    """The answers to assign requests, by the caller's `Idempotency-Key` (`shared.idempotency`)."""


# --- the read model of people (shared.people) ----------------------------------------------
class KnownUser(UserColumns, HomeworkBase):
    pass


class TeacherLink(TeacherLinkColumns, HomeworkBase):
    pass


class ParentLink(ParentLinkColumns, HomeworkBase):
    pass
