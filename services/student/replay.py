"""Replay: rebuild a student's state from their stored facts under the current rule set, compare it
with the stored state, and (unless a dry run) repair the stored state from it.

Without a rule change since the facts were applied the rebuilt state equals the stored one
exactly: replaying what was applied live gives what live processing gave. Repairing never takes anything away: ledger
entries and achievements already given stay, what the rebuild adds is awarded (with its events),
the total XP is the sum of the ledger and the level never goes down.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from services.student import progress
from services.student.engine import AchievementAward, Outcome, StudentState, XpAward, replay
from services.student.models import EarnedAchievement, StudentStateRow, XpEntry
from services.student.rulefile import ACHIEVEMENT_SOURCE
from services.student.service import Gamification
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.events import utcnow

UowFactory = Callable[[], UnitOfWork]
IGNORED = {"ruleset_version"}  # the version number alone is no difference in substance


def summary(state: StudentState) -> dict[str, Any]:
    return {"xp": state.total_xp, "level": state.level, "longest_streak": state.longest_streak,
            "achievements": list(state.earned)}


def differences(stored: StudentState, rebuilt: StudentState) -> list[str]:
    """The parts of the stored state (its JSON keys) that the rebuild does not reproduce."""
    old, new = stored.to_dict(), rebuilt.to_dict()
    return sorted(key for key in old.keys() | new.keys() if key not in IGNORED and old.get(key) != new.get(key))


async def replay_student(uow_factory: UowFactory, game: Gamification, student_id: uuid.UUID, *,
                         dry_run: bool) -> dict[str, Any]:
    async with uow_factory() as uow:
        session = uow.session
        if await session.get(StudentStateRow, student_id) is None:
            raise NotFound(f"No progress stored for student {student_id}")
        read = progress.load_state if dry_run else progress.lock_state
        stored = await read(session, student_id)
        assert stored is not None
        ruleset, curve = await game.book.active(session)
        rebuilt, outcomes = replay(await progress.facts_of(session, student_id), ruleset, curve)
        ledger = int(await session.scalar(select(func.coalesce(func.sum(XpEntry.amount), 0))
                                          .where(XpEntry.student_id == student_id)))
        found = differences(stored, rebuilt) + (["ledger"] if ledger != stored.total_xp else [])
        report = {"student_id": student_id, "equal": not found, "differences": found,
                  "stored": summary(stored), "rebuilt": summary(rebuilt), "ledger_xp": ledger, "repaired": False}
        if dry_run or not found:
            return report
        changes = progress.Changes()
        outcome = await _repair(uow, changes, student_id, stored, rebuilt, outcomes, ledger, curve)
        changes.stage(uow, game.boards.add)
        await uow.commit()
    return {**report, "repaired": True, "awarded": {"xp": outcome.xp_gained,
                                                    "achievements": [a.code for a in outcome.achievements]}}


async def _repair(uow: UnitOfWork, changes: progress.Changes, student_id: uuid.UUID, stored: StudentState,
                  rebuilt: StudentState, outcomes: list[Outcome], ledger_xp: int, curve: Any) -> Outcome:
    """Stage what the rebuild gives that the student lacks; keep all they were given."""
    session = uow.session
    given = {(row.source_event_id, row.rule) for row in await session.execute(
        select(XpEntry.source_event_id, XpEntry.rule).where(XpEntry.student_id == student_id))}
    earned = await _earned_before(session, student_id, stored)
    new_codes = [code for code in rebuilt.earned if code not in earned]
    missing = [award for outcome in outcomes for award in outcome.xp_awards
               if _is_missing(award, given, new_codes)]
    total, awards = ledger_xp, []
    for award in missing:
        total += award.amount
        awards.append(replace(award, total_xp=total))
    state = rebuilt.copy()
    state.earned = {**earned, **{code: rebuilt.earned[code] for code in new_codes}}
    state.total_xp = total
    state.level = max(stored.level, rebuilt.level, curve.level_for_xp(total))
    achievements = [award for outcome in outcomes for award in outcome.achievements if award.code in new_codes]
    before = max(stored.level, curve.level_for_xp(ledger_xp))  # what the ledger already gave
    outcome = Outcome(awards, (before, state.level) if state.level > before else None, _unique(achievements))
    changes.add_outcome(uow, student_id, state, outcome, version=state.ruleset_version or 0, at=utcnow())
    return outcome


async def _earned_before(session: Any, student_id: uuid.UUID, stored: StudentState) -> dict[str, Any]:
    """What the student has earned: the achievements table (durable, in award order), then
    anything only the stored state names."""
    rows = await session.execute(select(EarnedAchievement.code, EarnedAchievement.earned_at)
                                 .where(EarnedAchievement.student_id == student_id)
                                 .order_by(EarnedAchievement.position))
    earned = {row.code: row.earned_at for row in rows}
    return {**earned, **{code: at for code, at in stored.earned.items() if code not in earned}}


def _is_missing(award: XpAward, given: set[tuple[Any, str]], new_codes: list[str]) -> bool:
    if award.source == ACHIEVEMENT_SOURCE:  # a reward goes with its achievement, once
        return award.rule.split(":", 1)[1] in new_codes
    return (award.source_event_id, award.rule) not in given


def _unique(achievements: list[AchievementAward]) -> list[AchievementAward]:
    seen: dict[str, AchievementAward] = {}
    for award in achievements:
        seen.setdefault(award.code, award)
    return list(seen.values())


async def replay_students(uow_factory: UowFactory, game: Gamification, student_ids: list[uuid.UUID] | None, *,
                          dry_run: bool, batch: int = 500) -> list[dict[str, Any]]:
    """Replay the named students, or every student with stored progress (one transaction each)."""
    if student_ids is not None:
        return [await replay_student(uow_factory, game, s, dry_run=dry_run) for s in student_ids]
    reports, after = [], None
    while True:
        async with uow_factory().read_only() as uow:
            query = select(StudentStateRow.student_id).order_by(StudentStateRow.student_id).limit(batch)
            ids = list(await uow.session.scalars(query if after is None else query.where(
                StudentStateRow.student_id > after)))
        if not ids:
            return reports
        reports += [await replay_student(uow_factory, game, s, dry_run=dry_run) for s in ids]
        after = ids[-1]
