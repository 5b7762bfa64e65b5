"""Request and response models of the student service."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

Tier = Literal["common", "rare", "epic", "legendary"]
Titles = dict[str, str]


class ProfilePublic(BaseModel):
    student_id: uuid.UUID
    xp: int
    level: int
    xp_for_next_level: int      # the XP the current level spans (0 at the last level)
    xp_into_level: int          # XP earned since reaching the current level
    xp_to_next_level: int       # XP still missing for the next level (0 at the last level)
    next_level_at: int | None   # total XP at which the next level starts
    max_level: int
    streak_days: int
    longest_streak: int
    streak_at_risk: bool        # the streak ends tonight unless the student learns today
    achievements_earned: int
    timezone: str


class Progress(BaseModel):
    current: int | float
    target: int | float


class AchievementPublic(BaseModel):
    code: str
    title: str
    titles: Titles
    tier: Tier
    hidden: bool
    earned_at: datetime | None
    progress: Progress | None
    xp_reward: int
    requires: list[str]


class AchievementList(BaseModel):
    items: list[AchievementPublic]
    next_cursor: str | None = None


class XpEntryPublic(BaseModel):
    id: int
    amount: int
    source: str
    rule: str
    source_event_id: uuid.UUID | None
    at: datetime
    total_xp: int


class XpHistory(BaseModel):
    items: list[XpEntryPublic]
    next_cursor: str | None = None


class StandingPublic(BaseModel):
    student_id: uuid.UUID
    name: str | None
    xp: int
    rank: int


class LeaderboardPublic(BaseModel):
    period: Literal["week", "month", "all"]
    period_label: str
    starts_at: datetime | None
    ends_at: datetime | None
    scope: Literal["global", "teacher"]
    teacher_id: uuid.UUID | None
    total: int
    items: list[StandingPublic]
    me: StandingPublic | None = None
    next_cursor: str | None = None


class RecommendationPublic(BaseModel):
    kind: Literal["streak", "achievement", "dictionary", "material"]
    reason: str
    reasons: Titles
    code: str | None = None
    title: Titles | str | None = None
    current: int | float | None = None
    target: int | float | None = None
    missing: int | float | None = None
    streak_days: int | None = None
    last_reviewed_on: str | None = None
    material_id: uuid.UUID | None = None
    subject: str | None = None


class RecommendationList(BaseModel):
    items: list[RecommendationPublic]
    next_cursor: str | None = None


class RulesPublic(BaseModel):
    version: int
    created_at: datetime
    created_by: uuid.UUID | None
    rules: dict[str, Any]


class StudentGain(BaseModel):
    student_id: uuid.UUID
    achievements_gained: list[str]
    xp_gained: int


class DryRunPublic(BaseModel):
    version: int
    proposed_version: int
    students_checked: int
    items: list[StudentGain]


class RetroactiveAwards(BaseModel):
    students_checked: int
    students_awarded: int
    achievements_awarded: int
    xp_awarded: int
    items: list[StudentGain]


class AppliedRulesPublic(RulesPublic):
    retroactive: RetroactiveAwards
