"""A student's progress over a range of weeks, read from the read models and counted in the
viewer's zone (`domain`)."""
from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics import domain
from services.analytics.models import Activity, HomeworkFact, LearnedWord, LessonFact, StudentTotals, StudiedMaterial
from services.analytics.schemas import (
    HomeworkSummary,
    LessonSummary,
    ProgressPublic,
    ProgressWeek,
    ScorePoint,
    XpSummary,
)

STREAK_LOOKBACK_DAYS = 400


async def student_progress(session: AsyncSession, student_id: uuid.UUID, name: str | None, start: datetime,
                           end: datetime, tz: ZoneInfo, now: datetime) -> ProgressPublic:
    weeks = {week: ProgressWeek(week=week) for week in domain.weeks_between(start, end, tz)}
    lessons = await _lessons(session, student_id, start, end, weeks, tz)
    homework = await _homework(session, student_id, start, end, weeks, tz)
    xp_in_range = await _xp(session, student_id, start, end, weeks, tz)
    totals = await session.get(StudentTotals, student_id)
    days = await session.scalars(select(Activity.at).where(
        Activity.student_id == student_id, Activity.at >= now - timedelta(days=STREAK_LOOKBACK_DAYS)))
    last_activity = await session.scalar(select(func.max(Activity.at)).where(Activity.student_id == student_id))
    return ProgressPublic(
        student_id=student_id, student_name=name, from_=start, to=end, timezone=str(tz.key),
        weeks=list(weeks.values()), lessons=lessons, homework=homework,
        xp=XpSummary(total=totals.total_xp if totals else 0, level=totals.level if totals else 1,
                     in_range=xp_in_range),
        streak_days=domain.streak((moment.astimezone(tz).date() for moment in days), now.astimezone(tz).date()),
        words_learned=await _count(session, LearnedWord, student_id),
        materials_studied=await _count(session, StudiedMaterial, student_id),
        last_activity_at=domain.utc(last_activity) if last_activity else None)


async def _lessons(session: AsyncSession, student_id: uuid.UUID, start: datetime, end: datetime,
                   weeks: dict, tz: ZoneInfo) -> LessonSummary:
    rows = (await session.execute(select(
        LessonFact.starts_at, LessonFact.status, LessonFact.attended, LessonFact.duration_minutes,
        LessonFact.cancelled_by_role).where(
        LessonFact.student_id == student_id, LessonFact.starts_at >= start, LessonFact.starts_at < end))).all()
    by_whom: Counter[str] = Counter()
    completed = attended = 0
    for row in rows:
        week = weeks[domain.week_of(row.starts_at, tz)]
        if row.status == "completed":
            completed += 1
            week.lessons_completed += 1
            if row.attended:
                attended += 1
                week.lessons_attended += 1
                week.hours += round((row.duration_minutes or 0) / 60, 2)
        elif row.status == "cancelled":
            by_whom[row.cancelled_by_role or "other"] += 1
            week.lessons_cancelled += 1
    student_side = by_whom["student"] + by_whom["parent"]
    return LessonSummary(completed=completed, attended=attended, missed=completed - attended,
                         cancelled=sum(by_whom.values()), cancelled_by=dict(by_whom),
                         attendance_rate=domain.rate(attended, completed + student_side))


async def _homework(session: AsyncSession, student_id: uuid.UUID, start: datetime, end: datetime,
                    weeks: dict, tz: ZoneInfo) -> HomeworkSummary:
    rows = (await session.execute(select(HomeworkFact).where(
        HomeworkFact.student_id == student_id, HomeworkFact.due_at >= start, HomeworkFact.due_at < end)
        .order_by(HomeworkFact.graded_at, HomeworkFact.homework_id))).scalars().all()
    submitted = [row for row in rows if row.submitted_at is not None]
    graded = [row for row in rows if row.score is not None and row.max_score]
    week_scores: dict = defaultdict(list)
    scores = []
    for row in graded:
        pct = domain.percent(row.score, row.max_score)
        week_scores[domain.week_of(row.due_at, tz)].append(pct)
        scores.append(ScorePoint(homework_id=row.homework_id, title=row.title, graded_at=row.graded_at,
                                 score=row.score, max_score=row.max_score, percent=pct))
    for week, pcts in week_scores.items():
        if week in weeks:
            weeks[week].homework_average = round(sum(pcts) / len(pcts), 1)
    on_time = sum(1 for row in submitted if row.on_time)
    return HomeworkSummary(
        assigned=len(rows), submitted=len(submitted), on_time=on_time,
        on_time_rate=domain.rate(on_time, len(submitted)), graded=len(graded),
        average_score=round(sum(s.percent or 0 for s in scores) / len(scores), 1) if scores else None,
        falling=domain.falling([s.percent or 0 for s in scores]), scores=scores)


async def _xp(session: AsyncSession, student_id: uuid.UUID, start: datetime, end: datetime, weeks: dict,
              tz: ZoneInfo) -> int:
    rows = (await session.execute(select(Activity.at, Activity.xp).where(
        Activity.student_id == student_id, Activity.kind == "xp", Activity.at >= start, Activity.at < end))).all()
    for row in rows:
        weeks[domain.week_of(row.at, tz)].xp += row.xp
    return sum(row.xp for row in rows)


async def _count(session: AsyncSession, model: type, student_id: uuid.UUID) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(model.student_id == student_id)) or 0
