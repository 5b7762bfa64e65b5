"""Request and response bodies of the lesson API."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.lesson.domain import MAX_DURATION, MAX_WEEKLY_COUNT, MIN_DURATION, Attendance, LessonStatus, LessonType
from services.lesson.models import Lesson
from shared.openapi import IsoDatetime


def _duration(default: Any = ...) -> Any:
    return Field(default, ge=MIN_DURATION, le=MAX_DURATION, description="Minutes, 15..480")


class Money(BaseModel):
    """An amount in minor units (kopecks, cents) and an ISO 4217 currency."""

    amount: int = Field(ge=0, le=10**12, examples=[150000])
    currency: str = Field("RUB", pattern=r"^[A-Z]{3}$", examples=["RUB"])


class Recurrence(BaseModel):
    weekly_count: int = Field(ge=1, le=MAX_WEEKLY_COUNT,
                              description="Occurrences, one a week at the same local time of the teacher")


class LessonCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "student_id": "5f0c2b7e-8a41-4c36-9d1e-2b7a6c3f9e10", "subject": "Mathematics", "title": "Fractions",
        "starts_at": "2030-03-02T15:00:00+03:00", "duration_minutes": 60, "lesson_type": "regular",
        "price": {"amount": 150000, "currency": "RUB"}}]})

    student_id: uuid.UUID
    teacher_id: uuid.UUID | None = Field(None, description="Admins only; a teacher books for themself")
    subject: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=200)
    starts_at: IsoDatetime = Field(description="ISO 8601 with an offset; in the future")
    duration_minutes: int = _duration()
    lesson_type: LessonType = LessonType.REGULAR
    price: Money | None = None
    notes: str | None = Field(None, max_length=5000)
    recurrence: Recurrence | None = None


class LessonUpdate(BaseModel):
    """A reschedule: a new start, a new duration, or both."""

    model_config = ConfigDict(json_schema_extra={
        "anyOf": [{"required": ["starts_at"]}, {"required": ["duration_minutes"]}],
        "examples": [{"starts_at": "2026-03-02T15:00:00+03:00"}, {"duration_minutes": 90}]})

    # None is only the "not sent" default: null is refused
    starts_at: IsoDatetime = None  # type: ignore[assignment]
    duration_minutes: int = _duration(None)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _something_changes(self) -> LessonUpdate:
        if self.starts_at is None and self.duration_minutes is None:
            raise ValueError("give starts_at, duration_minutes or both")
        return self


class LessonComplete(BaseModel):
    # `attended`, when sent with `attendance`, must agree with it (present/late are attended)
    model_config = ConfigDict(json_schema_extra={
        "allOf": [{"if": {"required": ["attended"], "properties": {"attended": {"const": flag}}},
                   "then": {"properties": {"attendance": {"enum": [*values, None]}}}}
                  for flag, values in ((True, ["present", "late"]), (False, ["absent", "excused"]))],
        "examples": [{"score": 90, "attended": True, "notes": "Fractions done; decimals next"}]})

    attendance: Attendance | None = Field(None, description="Default: from `attended`, else present")
    attended: bool | None = None
    score: int | None = Field(None, ge=0, le=100)
    notes: str | None = Field(None, max_length=5000)


class LessonCancel(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "The student is ill"}]})

    reason: str = Field(min_length=1, max_length=500)


class LessonPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    teacher_id: uuid.UUID
    student_id: uuid.UUID
    subject: str
    title: str
    lesson_type: LessonType
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    price: Money | None
    status: LessonStatus
    attendance: Attendance | None
    score: int | None
    notes: str | None
    series_id: uuid.UUID | None
    cancellation_reason: str | None
    cancelled_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, lesson: Lesson) -> LessonPublic:
        price = (Money(amount=lesson.price_amount, currency=lesson.currency or "RUB")
                 if lesson.price_amount is not None else None)
        return cls.model_validate({**{k: getattr(lesson, k) for k in cls.model_fields if k != "price"},
                                   "price": price})


class LessonSeriesPublic(BaseModel):
    series_id: uuid.UUID
    items: list[LessonPublic]


class FeedPublic(BaseModel):
    url: str = Field(description="Subscribe to this URL in a calendar app; keep it private")
