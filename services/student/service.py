"""Use cases of the student service: facts in (XP, levels, streaks, achievements), progress out."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from redis.exceptions import RedisError
from sqlalchemy import select

from services.student import people, progress
from services.student.engine import Fact, Outcome, StudentState, achievement_progress, apply_fact, award_retroactively
from services.student.leaderboards import Leaderboards, Period, PeriodName, Standing, ranked
from services.student.levels import LevelCurve
from services.student.models import EarnedAchievement, XpEntry
from services.student.rulebook import RuleBook
from services.student.ruleset import RuleSet
from services.student.schemas import AchievementPublic, LeaderboardPublic, ProfilePublic, StandingPublic, XpEntryPublic
from services.student.state import zone
from shared import context
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound, ServiceUnavailable, Unprocessable
from shared.events import Event, payload_model, utcnow
from shared.pagination import Page, PageParams, encode_cursor, make_page

LOCALES = ("ru", "en")


@dataclass
class Gamification:
    """What the use cases share in one process: the rule book and the leaderboards."""

    book: RuleBook
    boards: Leaderboards


# --- facts in ----------------------------------------------------------------------------------
async def record_facts(uow: UnitOfWork, game: Gamification, events: list[Event]) -> None:
    """Apply learning events to their students in this transaction: facts, states, ledger,
    achievements and outgoing events. The students' rows stay locked until the commit, so
    concurrent consumers (other instances) never lose an update."""
    payloads = [event.payload_as(payload_model(event.type)) for event in events]
    students = [payload.student_id for payload in payloads]
    session = uow.session
    states = await progress.lock_states(session, students)
    newest = max(state.ruleset_version or 0 for state in states.values())
    ruleset, curve = await game.book.active(session, at_least=newest)
    zones = await people.zone_histories(session, states)
    changes = progress.Changes()
    for student_id in states:
        await catch_up(uow, changes, student_id, states[student_id], ruleset, curve)
    for event, payload, student_id in zip(context.each_event(events), payloads, students):
        fact = fact_of(event, zones.get(student_id, []))
        outcome = apply_fact(states[student_id], fact, ruleset, curve)
        changes.add_fact(student_id, fact)
        changes.add_outcome(uow, student_id, states[student_id], outcome, version=ruleset.version,
                            at=fact.occurred_at)
        if event.type == "material.studied":
            await people.record_studied(session, student_id, payload.material_id, fact.occurred_at)
    changes.stage(uow, game.boards.add)


def fact_of(event: Event, zones: people.ZoneHistory) -> Fact:
    """The engine's fact: the event at its time (UTC when it names no offset), in the student's
    zone as it was at that time."""
    occurred_at = event.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return Fact(event.id, event.type, occurred_at, people.zone_at(zones, occurred_at), dict(event.payload))


async def catch_up(uow: UnitOfWork, changes: progress.Changes, student_id: uuid.UUID, state: StudentState,
                   ruleset: RuleSet, curve: LevelCurve, *, now: datetime | None = None,
                   facts: list[Fact] | None = None) -> Outcome:
    """Award what a newer rule set gives a student last judged under an older one (never revoking).

    The student's observations are recounted from their stored facts; a caller that loaded them
    passes `facts`, and an empty list when the new rules observe nothing the old ones did not.
    """
    if state.ruleset_version is None or state.ruleset_version >= ruleset.version:
        return Outcome()
    now = now or utcnow()
    history = facts if facts is not None else await progress.facts_of(uow.session, student_id)
    outcome = award_retroactively(state, ruleset, curve, now, history or None)
    changes.add_outcome(uow, student_id, state, outcome, version=ruleset.version, at=now)
    return outcome


# --- progress out ------------------------------------------------------------------------------
async def visible_student(uow: UnitOfWork, viewer: Principal, student_id: uuid.UUID) -> None:
    """404 unless the viewer may see this student (self, linked teacher or parent, admin)."""
    if not await people.may_see(uow.session, viewer, student_id):
        raise NotFound("No such student")


async def student_today(uow: UnitOfWork, student_id: uuid.UUID) -> tuple[str, date]:
    now = utcnow()
    name = await people.timezone_at(uow.session, student_id, now)
    return name, now.astimezone(zone(name)).date()


async def get_profile(uow: UnitOfWork, game: Gamification, viewer: Principal, student_id: uuid.UUID) -> ProfilePublic:
    async with uow.read_only():
        await visible_student(uow, viewer, student_id)
        state = await progress.load_state(uow.session, student_id) or StudentState()
        _, curve = await game.book.active(uow.session)
        tz, today = await student_today(uow, student_id)
    level = state.level
    base, following = curve.xp_for_level(level), curve.xp_for_level(level + 1)
    at_cap = level >= curve.max_level
    return ProfilePublic(
        student_id=student_id, xp=state.total_xp, level=level,
        xp_for_next_level=0 if at_cap else following - base,
        xp_into_level=max(0, state.total_xp - base),
        xp_to_next_level=0 if at_cap else max(0, following - state.total_xp),
        next_level_at=None if at_cap else following,
        max_level=curve.max_level,
        streak_days=state.current_streak(today), longest_streak=state.longest_streak,
        streak_at_risk=state.streak_at_risk(today) > 0,
        achievements_earned=len(state.earned), timezone=tz,
    )


async def list_achievements(uow: UnitOfWork, game: Gamification, viewer: Principal, student_id: uuid.UUID,
                            locale: str | None) -> list[AchievementPublic]:
    """Every visible achievement with earned_at and progress; hidden ones only once earned."""
    async with uow.read_only():
        await visible_student(uow, viewer, student_id)
        state = await progress.load_state(uow.session, student_id) or StudentState()
        ruleset, _ = await game.book.active(uow.session)
        _, today = await student_today(uow, student_id)
        lang = await student_locale(uow, student_id, locale)
        stored = {row.code: (row.tier, row.earned_at) for row in await uow.session.execute(
            select(EarnedAchievement.code, EarnedAchievement.tier, EarnedAchievement.earned_at)
            .where(EarnedAchievement.student_id == student_id))}
    items = []
    for item in achievement_progress(state, ruleset, today=today):
        if item["hidden"] and item["earned_at"] is None:
            continue
        achievement = ruleset.achievements[item["code"]]
        items.append({**item, "title": item["titles"][lang], "xp_reward": achievement.xp_reward,
                      "requires": list(achievement.requires)})
    known = {item["code"] for item in items}
    for code, (tier, earned_at) in stored.items():  # earned under an earlier rule set that dropped it
        if code not in known:
            items.append({"code": code, "title": code, "titles": {"ru": code, "en": code}, "tier": tier,
                          "hidden": False, "earned_at": earned_at, "progress": None, "xp_reward": 0,
                          "requires": []})
    return [AchievementPublic.model_validate(item) for item in items]


async def student_locale(uow: UnitOfWork, student_id: uuid.UUID, requested: str | None) -> str:
    if requested in LOCALES:
        return requested
    known = await people.roster.user(uow.session, student_id)
    stored = (known.locale or "")[:2].lower() if known else ""
    return stored if stored in LOCALES else "ru"


async def xp_history(uow: UnitOfWork, viewer: Principal, student_id: uuid.UUID,
                     page: PageParams) -> Page[XpEntryPublic]:
    """The student's XP ledger, newest first."""
    after = page.after(int)
    async with uow.read_only():
        await visible_student(uow, viewer, student_id)
        query = select(XpEntry).where(XpEntry.student_id == student_id)
        if after is not None:
            query = query.where(XpEntry.id < after[0])
        rows = await uow.session.scalars(query.order_by(XpEntry.id.desc()).limit(page.limit + 1))
        entries = [XpEntryPublic(id=row.id, amount=row.amount, source=row.source, rule=row.rule,
                                 source_event_id=row.source_event_id, at=row.occurred_at, total_xp=row.total_after)
                   for row in rows]
    return make_page(entries, page.limit, lambda entry: [entry.id])


# --- leaderboards ------------------------------------------------------------------------------
async def leaderboard(uow: UnitOfWork, game: Gamification, viewer: Principal, *, period: PeriodName,
                      scope: str, teacher_id: uuid.UUID | None, page: PageParams) -> LeaderboardPublic:
    """One page of a board. Redis is read (and a board rebuilt from the ledger) outside any
    transaction of this request: in embedded mode SQLite would make the rebuild wait for it."""
    after = page.after(int)
    offset = 0 if after is None else after[0]
    current = game.boards.current(period, utcnow())
    teacher, members = None, None
    if scope == "teacher":
        async with uow.read_only():
            teacher = await board_teacher(uow, viewer, teacher_id)
            members = await people.roster.students_of(uow.session, teacher)
    standings, total, me = await _standings(game.boards, current, viewer, members, offset, page.limit)
    async with uow.read_only():
        shown = [*standings, *([me] if me else [])]
        names = await people.roster.names_of(uow.session, [s.student_id for s in shown])

    def public(s: Standing) -> StandingPublic:
        return StandingPublic(student_id=s.student_id, name=names.get(s.student_id), xp=s.xp, rank=s.rank)
    more = offset + len(standings) < total
    return LeaderboardPublic(
        period=period, period_label=current.label, starts_at=current.starts_at, ends_at=current.ends_at,
        scope=scope, teacher_id=teacher, total=total, items=[public(s) for s in standings],
        me=public(me) if me else None, next_cursor=_offset_cursor(offset + len(standings)) if more else None)


async def _standings(boards: Leaderboards, period: Period, viewer: Principal, members: list[uuid.UUID] | None,
                     offset: int, limit: int) -> tuple[list[Standing], int, Standing | None]:
    """(a page of standings, how many are ranked, a student viewer's own standing on the global board);
    `members` ranks only those students (a teacher's board). 503 while Redis does not answer."""
    try:
        if members is not None:
            scores = await boards.scores(period, members)
            ordered = ranked(sorted(scores.items(), key=lambda item: (-item[1], str(item[0]))))
            return ordered[offset:offset + limit], len(ordered), None
        standings, total = await boards.top(period, offset=offset, limit=limit)
        me = await boards.standing(period, viewer.id) if viewer.role == "student" else None
        return standings, total, me
    except RedisError as exc:
        raise ServiceUnavailable("Leaderboards are unavailable: Redis does not answer") from exc


def _offset_cursor(offset: int) -> str:
    return encode_cursor([offset])


async def board_teacher(uow: UnitOfWork, viewer: Principal, teacher_id: uuid.UUID | None) -> uuid.UUID:
    """Whose students a teacher-scope board ranks: the teacher's own; a student's (first) teacher;
    for a parent, a teacher of one of their children; for an admin, any teacher named."""
    session = uow.session
    if viewer.role == "teacher":
        if teacher_id not in (None, viewer.id):
            raise NotFound("No such teacher board")
        return viewer.id
    if viewer.role == "student":
        allowed = await people.roster.teachers_of(session, viewer.id)
    elif viewer.role == "parent":
        allowed = [t for child in await people.roster.children_of(session, viewer.id)
                   for t in await people.roster.teachers_of(session, child)]
    else:
        if teacher_id is None:
            raise Unprocessable("teacher_id is required", errors=[{"loc": ["query", "teacher_id"],
                                                                   "msg": "an admin names the teacher"}])
        return teacher_id
    chosen = teacher_id or (allowed[0] if allowed else None)
    if chosen is None or chosen not in allowed:
        raise NotFound("No teacher board for you")
    return chosen
