"""Request and response bodies of the homework API."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.homework.domain import HomeworkStatus, status_at
from shared.openapi import IsoDatetime

if TYPE_CHECKING:
    from services.homework.models import Homework
    from services.homework.service import HomeworkRecord

MAX_STUDENTS_PER_REQUEST = 50
MAX_SCORE = 10_000
EXAMPLE_ID = "5f0c2b7e-8a41-4c36-9d1e-2b7a6c3f9e10"


class HomeworkCreate(BaseModel):
    """An assignment to one student (`student_id`) or, one homework each, to several (`student_ids`)."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["student_id"]}, {"required": ["student_ids"]}],
        "examples": [{"student_id": EXAMPLE_ID, "title": "Fractions, exercises 1-10",
                      "description": "Show your working.\n\n* 1-5: add\n* 6-10: multiply",
                      "due_at": "2030-03-02T18:00:00+03:00", "max_score": 100}]})

    student_id: uuid.UUID | None = None
    student_ids: list[uuid.UUID] | None = Field(None, min_length=1, max_length=MAX_STUDENTS_PER_REQUEST)
    teacher_id: uuid.UUID | None = Field(None, description="Admins only; a teacher assigns their own")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=20_000, description="Markdown")
    due_at: IsoDatetime = Field(description="ISO 8601 with an offset; in the future")
    max_score: int = Field(100, ge=1, le=MAX_SCORE)
    lesson_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_audience(self) -> HomeworkCreate:
        if (self.student_id is None) == (self.student_ids is None):
            raise ValueError("give either student_id or student_ids")
        if self.student_ids is not None and len(set(self.student_ids)) != len(self.student_ids):
            raise ValueError("student_ids has a student twice")
        return self

    @property
    def students(self) -> list[uuid.UUID]:
        return [self.student_id] if self.student_id is not None else list(self.student_ids or ())


class HomeworkUpdate(BaseModel):
    """A change by the teacher: any of title, description, due time and maximum score."""

    model_config = ConfigDict(json_schema_extra={
        "anyOf": [{"required": [name]} for name in ("title", "description", "due_at", "max_score")],
        "examples": [{"due_at": "2030-03-03T18:00:00+03:00"}]})

    # None is only the "not sent" default: null is refused
    title: str = Field(None, min_length=1, max_length=200)  # type: ignore[assignment]
    description: str = Field(None, max_length=20_000)  # type: ignore[assignment]
    due_at: IsoDatetime = None  # type: ignore[assignment]
    max_score: int = Field(None, ge=1, le=MAX_SCORE)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _something_changes(self) -> HomeworkUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of title, description, due_at, max_score")
        return self


class GradeCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"score": 95, "feedback": "Well done; check 7"}]})

    score: int = Field(ge=0, le=MAX_SCORE, description="0..max_score")
    feedback: str | None = Field(None, max_length=10_000)
    submission_id: uuid.UUID | None = Field(
        None, description="The submission the teacher read; 409 when a newer one has replaced it")


class FilePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    file_name: str
    content_type: str
    size: int
    uploaded_by: uuid.UUID
    created_at: datetime
    sha256: str = Field(validation_alias="storage_key")


class SubmissionPublic(BaseModel):
    id: uuid.UUID
    number: int
    text: str | None
    submitted_at: datetime
    on_time: bool
    files: list[FilePublic]


class GradePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    submission_id: uuid.UUID
    score: int
    max_score: int
    feedback: str | None
    graded_by: uuid.UUID
    graded_at: datetime


class HomeworkPublic(BaseModel):
    id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    lesson_id: uuid.UUID | None
    batch_id: uuid.UUID | None
    title: str
    description: str
    due_at: datetime
    max_score: int
    status: HomeworkStatus = Field(description="overdue: assigned, past due_at, nothing submitted")
    submitted_at: datetime | None
    on_time: bool | None
    score: int | None
    feedback: str | None
    graded_at: datetime | None
    created_at: datetime
    updated_at: datetime


class HomeworkDetail(HomeworkPublic):
    attachments: list[FilePublic] = Field(description="The teacher's task sheets")
    submissions: list[SubmissionPublic] = Field(description="Every submission, the latest last")
    grades: list[GradePublic] = Field(description="Every grade, the latest last (more than one: re-graded)")


class HomeworkBatchPublic(BaseModel):
    batch_id: uuid.UUID
    items: list[HomeworkPublic]


def homework_public(homework: Homework, now: datetime) -> HomeworkPublic:
    """The public shape, with the status as of `now` (overdue is computed, not stored)."""
    fields = {name: getattr(homework, name) for name in HomeworkPublic.model_fields if name != "status"}
    return HomeworkPublic(**fields, status=status_at(homework.status, homework.due_at, now))


def homework_detail(record: HomeworkRecord, now: datetime) -> HomeworkDetail:
    files = [FilePublic.model_validate(f) for f in record.attachments]
    submissions = [SubmissionPublic(id=s.id, number=s.number, text=s.text, submitted_at=s.submitted_at,
                                    on_time=s.on_time,
                                    files=[FilePublic.model_validate(f) for f in record.files.get(s.id, [])])
                   for s in record.submissions]
    return HomeworkDetail(**homework_public(record.homework, now).model_dump(), attachments=files,
                          submissions=submissions, grades=[GradePublic.model_validate(g) for g in record.grades])
