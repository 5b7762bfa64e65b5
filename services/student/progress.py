"""Storing students' progress: locked state rows, facts, the XP ledger, achievements, and the
events and counters that follow. One transaction collects its rows in `Changes` and stages them in
the unit of work, which writes them in bulk before the commit (on PostgreSQL in one statement), so
a batch of facts costs a handful of statements, not a handful per fact."""
from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.student import metrics
from services.student.engine import Fact, Outcome, StudentState
from services.student.models import EarnedAchievement, FactRow, StudentStateRow, XpEntry
from shared.db import UnitOfWork
from shared.events import AchievementEarned, Payload, StudentLevelUp, XpEarned, utcnow
from shared.sql import insert_ignoring, one_of

STATES = StudentStateRow.__table__
FACTS = FactRow.__table__
LEDGER = XpEntry.__table__
ACHIEVEMENTS = EarnedAchievement.__table__

OnAwards = Callable[[list[tuple[uuid.UUID, int, datetime]]], Coroutine[Any, Any, Any]]


# --- reading -------------------------------------------------------------------------------
async def lock_states(session: AsyncSession, student_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, StudentState]:
    """The students' states, their rows locked (in id order) until the transaction ends; a
    student without a row gets an empty state (and a row)."""
    ids = sorted(set(student_ids))
    found = await _locked(session, ids)
    missing = [student_id for student_id in ids if student_id not in found]
    if missing:
        empty, now = StudentState().to_dict(), utcnow()
        connection = await session.connection()
        await connection.execute(insert_ignoring(connection.dialect.name, STATES),
                                 [{"student_id": s, "state": empty, "updated_at": now} for s in missing])
        found.update(await _locked(session, missing))
    return {student_id: StudentState.from_dict(found[student_id]) for student_id in ids}


async def _locked(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict]:
    connection = await session.connection()
    rows = await connection.execute(_lock_states(connection.dialect.name), {"ids": ids})
    return {row.student_id: row.state for row in rows}


@functools.cache
def _lock_states(dialect: str) -> Any:
    return (select(STATES.c.student_id, STATES.c.state).where(one_of(STATES.c.student_id, "ids", dialect))
            .order_by(STATES.c.student_id).with_for_update())


async def lock_state(session: AsyncSession, student_id: uuid.UUID) -> StudentState:
    return (await lock_states(session, [student_id]))[student_id]


async def load_state(session: AsyncSession, student_id: uuid.UUID) -> StudentState | None:
    data = await session.scalar(select(StudentStateRow.state).where(StudentStateRow.student_id == student_id))
    return None if data is None else StudentState.from_dict(data)


async def facts_of(session: AsyncSession, student_id: uuid.UUID) -> list[Fact]:
    """The student's facts in ingestion order: what replay reads."""
    return (await facts_by_student(session, [student_id]))[student_id]


async def facts_by_student(session: AsyncSession, student_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Fact]]:
    ids = list(student_ids)
    found: dict[uuid.UUID, list[Fact]] = {student_id: [] for student_id in ids}
    rows = await session.execute(
        select(FactRow.student_id, FactRow.event_id, FactRow.type, FactRow.occurred_at, FactRow.timezone,
               FactRow.payload).where(FactRow.student_id.in_(ids)).order_by(FactRow.seq))
    for row in rows:
        found[row.student_id].append(Fact(row.event_id, row.type, row.occurred_at, row.timezone, row.payload))
    return found


# --- writing -------------------------------------------------------------------------------
@dataclass
class Changes:
    """What one transaction changes for its students, staged in its unit of work by `stage()`."""

    facts: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    achievements: list[dict[str, Any]] = field(default_factory=list)
    states: dict[uuid.UUID, StudentState] = field(default_factory=dict)
    outcomes: dict[uuid.UUID, list[Outcome]] = field(default_factory=dict)

    def add_fact(self, student_id: uuid.UUID, fact: Fact) -> None:
        self.facts.append({"student_id": student_id, "event_id": fact.event_id, "type": fact.type,
                           "occurred_at": fact.occurred_at, "timezone": fact.timezone,
                           "payload": dict(fact.payload)})

    def add_outcome(self, uow: UnitOfWork, student_id: uuid.UUID, state: StudentState, outcome: Outcome, *,
                    version: int, at: datetime) -> None:
        """Ledger rows, achievements and their events for one engine call; the events are made here,
        in the context (correlation, causation) of the fact that led to them."""
        self.states[student_id] = state
        if outcome.is_empty:
            return
        self.outcomes.setdefault(student_id, []).append(outcome)
        now = utcnow()
        self.ledger += [{"student_id": student_id, "amount": award.amount, "source": award.source,
                         "rule": award.rule, "source_event_id": award.source_event_id,
                         "occurred_at": award.occurred_at, "total_after": award.total_xp, "recorded_at": now}
                        for award in outcome.xp_awards]
        order = {code: place for place, code in enumerate(state.earned, start=1)}
        self.achievements += [{"student_id": student_id, "code": award.code, "tier": award.tier,
                               "earned_at": award.earned_at, "position": order[award.code],
                               "ruleset_version": version} for award in outcome.achievements]
        uow.emit_many(_events(student_id, state, outcome, version, at))

    def stage(self, uow: UnitOfWork, on_awards: OnAwards | None) -> None:
        """Stage the rows in the unit of work (written in bulk before its commit), and what follows
        the commit: the business metrics and the XP awards handed to `on_awards` (the leaderboards)."""
        now = utcnow()
        uow.insert_rows(FACTS, [{**fact, "recorded_at": now} for fact in self.facts], ignore_conflicts=True)
        uow.insert_rows(LEDGER, self.ledger)
        uow.insert_rows(ACHIEVEMENTS, self.achievements)
        uow.update_rows(STATES, [{"student_id": student_id, "state": state.to_dict(),
                                  "ruleset_version": state.ruleset_version, "updated_at": now}
                                 for student_id, state in self.states.items()], key=("student_id",))
        if self.outcomes:
            uow.after_commit(functools.partial(self.committed, on_awards))

    def committed(self, on_awards: OnAwards | None) -> Coroutine[Any, Any, Any] | None:
        """Count the business metrics; the leaderboard update of the XP awards (student, amount,
        when), which the unit of work runs in the background."""
        outcomes = [outcome for found in self.outcomes.values() for outcome in found]
        metrics.count(outcomes)
        awards = [(student_id, award.amount, award.occurred_at)
                  for student_id, found in self.outcomes.items() for outcome in found for award in outcome.xp_awards]
        return on_awards(awards) if on_awards and awards else None


def _events(student_id: uuid.UUID, state: StudentState, outcome: Outcome, version: int,
            at: datetime) -> list[tuple[Payload, datetime]]:
    """`xp.earned` for every award, `achievement.earned` for each achievement, one `student.level_up`."""
    events: list[tuple[Payload, datetime]] = [
        (XpEarned(student_id=student_id, amount=award.amount, source=award.source,
                  source_event_id=award.source_event_id, total_xp=award.total_xp, rule=award.rule),
         award.occurred_at) for award in outcome.xp_awards]
    events += [(AchievementEarned(student_id=student_id, code=earned.code, title=earned.title, tier=earned.tier,
                                  earned_at=earned.earned_at, titles=earned.titles, xp_reward=earned.xp_reward,
                                  ruleset_version=version), earned.earned_at) for earned in outcome.achievements]
    if outcome.level_change:
        old, new = outcome.level_change
        events.append((StudentLevelUp(student_id=student_id, old_level=old, new_level=new, xp=state.total_xp), at))
    return events

