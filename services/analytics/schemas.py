"""The analytics API's response models. Money is in minor units, by currency (`{"RUB": 150000}`);
rates are 0..1 (None when there is nothing to count); scores are percentages of the maximum."""
from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class ProgressWeek(BaseModel):
    week: date = Field(description="The Monday of the week, in the viewer's zone")
    lessons_completed: int = 0
    lessons_attended: int = 0
    lessons_cancelled: int = 0
    hours: float = 0.0
    xp: int = 0
    homework_average: float | None = Field(None, description="Mean score (%) of the homework due that week")


class LessonSummary(BaseModel):
    completed: int
    attended: int
    missed: int = Field(description="Completed, but the student was absent")
    cancelled: int
    cancelled_by: dict[str, int] = Field(description="Cancellations by the canceller's role")
    attendance_rate: float | None = Field(
        description="Attended / (completed + cancelled by the student or a parent)")


class ScorePoint(BaseModel):
    homework_id: uuid.UUID
    title: str | None
    graded_at: datetime | None
    score: int
    max_score: int
    percent: float | None


class HomeworkSummary(BaseModel):
    assigned: int
    submitted: int
    on_time: int
    on_time_rate: float | None
    graded: int
    average_score: float | None
    falling: bool = Field(description="The last three scores are 10 points or more below the three before")
    scores: list[ScorePoint] = Field(description="Graded homework, oldest grade first: the score trend")


class XpSummary(BaseModel):
    total: int
    level: int
    in_range: int


class ProgressPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    student_id: uuid.UUID
    student_name: str | None
    from_: datetime = Field(alias="from")
    to: datetime
    timezone: str
    weeks: list[ProgressWeek]
    lessons: LessonSummary
    homework: HomeworkSummary
    xp: XpSummary
    streak_days: int
    words_learned: int
    materials_studied: int
    last_activity_at: datetime | None


class OverviewWeek(BaseModel):
    week: date
    lessons: int = 0
    hours: float = 0.0
    cancelled: int = 0


class OverviewMonth(BaseModel):
    month: date
    lessons: int = 0
    hours: float = 0.0
    income: dict[str, int] = Field(default_factory=dict)


class Debtor(BaseModel):
    student_id: uuid.UUID
    name: str | None
    balance: int
    currency: str


class AtRisk(BaseModel):
    student_id: uuid.UUID
    name: str | None
    last_activity_at: datetime | None
    inactive: bool = Field(description="Nothing for 14 days")
    falling_scores: bool


class OverviewTotals(BaseModel):
    lessons: int
    hours: float
    cancelled: int
    income: dict[str, int]


class OverviewPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    teacher_id: uuid.UUID
    from_: datetime = Field(alias="from")
    to: datetime
    timezone: str
    weeks: list[OverviewWeek]
    months: list[OverviewMonth]
    totals: OverviewTotals
    debts: dict[str, int] = Field(description="What the teacher's students owe now, by currency")
    debtors: list[Debtor]
    homework_submitted: int
    homework_on_time: int
    homework_on_time_rate: float | None
    students: int = Field(description="Linked students")
    active_students: int = Field(description="Students with a lesson or any activity in the last 14 days")
    at_risk: list[AtRisk]
