"""Storing students' progress: locked state rows, facts, the XP ledger, achievements, and the
events and counters that follow. One transaction collects its rows in `Changes` and writes them
in bulk at the end, so a batch of facts costs a handful of statements, not a handful per fact."""
from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.student import metrics
from services.student.engine import Fact, Outcome, StudentState
from services.student.models import EarnedAchievement, FactRow, StudentStateRow, XpEntry
from shared.db import UnitOfWork
from shared.events import AchievementEarned, Payload, StudentLevelUp, XpEarned, make_event, utcnow
from shared.outbox import OutboxMessage
from shared.sql import insert_ignoring, json_dumps, one_of

# The statements of the hot path, built once and run on the session's connection (see `shared.db`).
STATES = StudentStateRow.__table__
SAVE_STATE = (update(STATES).where(STATES.c.student_id == bindparam("id"))
              .values(state=bindparam("state"), ruleset_version=bindparam("ruleset_version"),
                      updated_at=bindparam("updated_at")))
ADD_LEDGER = insert(XpEntry.__table__)
ADD_ACHIEVEMENTS = insert(EarnedAchievement.__table__)
ADD_OUTBOX = insert(OutboxMessage.__table__)

# PostgreSQL: every row of a transaction in one statement, each table's rows as arrays of their
# columns. The batch transaction's round trips are what a busy machine makes slow (each waits for
# the event loop and for PostgreSQL), and this turns five of them into one.
_ROWS = {  # parameter prefix: (table, [(column, array type)])
    "fact": ("facts", [("student_id", "uuid"), ("event_id", "uuid"), ("type", "text"),
                       ("occurred_at", "timestamptz"), ("timezone", "text"), ("payload", "jsonb"),
                       ("recorded_at", "timestamptz")]),
    "ledger": ("xp_ledger", [("student_id", "uuid"), ("amount", "bigint"), ("source", "text"), ("rule", "text"),
                             ("source_event_id", "uuid"), ("occurred_at", "timestamptz"),
                             ("total_after", "bigint"), ("recorded_at", "timestamptz")]),
    "achievement": ("student_achievements", [("student_id", "uuid"), ("code", "text"), ("tier", "text"),
                                             ("earned_at", "timestamptz"), ("position", "int"),
                                             ("ruleset_version", "int")]),
    "outbox": ("outbox", [("event_id", "uuid"), ("type", "text"), ("body", "jsonb"), ("created_at", "timestamptz")]),
    "state": ("student_state", [("id", "uuid"), ("state", "jsonb"), ("ruleset_version", "int"),
                                ("updated_at", "timestamptz")]),
}


def _unnest(prefix: str) -> str:
    return "unnest(" + ", ".join(f"CAST(:{prefix}_{name} AS {kind}[])" for name, kind in _ROWS[prefix][1]) + ")"


def _insert(prefix: str) -> str:
    table, columns = _ROWS[prefix]
    conflict = " ON CONFLICT DO NOTHING" if table == "facts" else ""  # as the SQLite path does
    return (f"new_{prefix} AS (INSERT INTO {table} ({', '.join(name for name, _ in columns)}) "
            f"SELECT * FROM {_unnest(prefix)}{conflict})")


WRITE_ALL = text(
    f"WITH {', '.join(_insert(prefix) for prefix in ('fact', 'ledger', 'achievement', 'outbox'))} "
    "UPDATE student_state SET state = s.state, ruleset_version = s.ruleset_version, updated_at = s.updated_at "
    f"FROM {_unnest('state')} AS s(id, state, ruleset_version, updated_at) WHERE student_state.student_id = s.id")


def _columns(**rows_by_prefix: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The parameters of WRITE_ALL: each table's rows turned into one list per column (JSON as text)."""
    params: dict[str, list[Any]] = {}
    for prefix, rows in rows_by_prefix.items():
        for name, kind in _ROWS[prefix][1]:
            values = [row[name] for row in rows]
            params[f"{prefix}_{name}"] = [json_dumps(v) for v in values] if kind == "jsonb" else values
    return params


OnAwards = Callable[[list[tuple[uuid.UUID, int, datetime]]], Any]


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
    """What one transaction changes for its students, written by `write()` before the commit."""

    facts: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    achievements: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    states: dict[uuid.UUID, StudentState] = field(default_factory=dict)
    outcomes: dict[uuid.UUID, list[Outcome]] = field(default_factory=dict)

    def add_fact(self, student_id: uuid.UUID, fact: Fact) -> None:
        self.facts.append({"student_id": student_id, "event_id": fact.event_id, "type": fact.type,
                           "occurred_at": fact.occurred_at, "timezone": fact.timezone,
                           "payload": dict(fact.payload)})

    def add_outcome(self, uow: UnitOfWork, student_id: uuid.UUID, state: StudentState, outcome: Outcome, *,
                    version: int, at: datetime) -> None:
        """Ledger rows, achievements and their events (staged in the outbox) for one engine call."""
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
        for payload, occurred_at in _events(student_id, state, outcome, version, at):
            self.emit(uow, payload, occurred_at)

    def emit(self, uow: UnitOfWork, payload: Payload, occurred_at: datetime) -> None:
        """As `uow.emit`, with the outbox row written in bulk by `write()` (same transaction)."""
        event = make_event(payload, producer=uow.producer, occurred_at=occurred_at)
        uow.events.append(event)  # the unit of work wakes the outbox relay after the commit
        self.outbox.append({"event_id": event.id, "type": event.type, "body": event.model_dump(mode="json"),
                            "created_at": utcnow()})

    async def write(self, uow: UnitOfWork, on_awards: OnAwards | None) -> None:
        """Bulk-write the rows: on PostgreSQL in one statement (one round trip), elsewhere with
        one executemany per table (each statement compiled once, whatever the count)."""
        session = uow.session
        connection = await session.connection()
        now = utcnow()
        facts = [{**fact, "recorded_at": now} for fact in self.facts]
        states = [{"id": student_id, "state": state.to_dict(), "ruleset_version": state.ruleset_version,
                   "updated_at": now} for student_id, state in self.states.items()]
        if connection.dialect.name == "postgresql":
            await connection.execute(WRITE_ALL, _columns(
                fact=facts, ledger=self.ledger, achievement=self.achievements, outbox=self.outbox, state=states))
        else:
            for statement, rows in ((insert_ignoring(connection.dialect.name, FactRow.__table__), facts),
                                    (ADD_LEDGER, self.ledger), (ADD_ACHIEVEMENTS, self.achievements),
                                    (ADD_OUTBOX, self.outbox), (SAVE_STATE, states)):
                if rows:
                    await connection.execute(statement, rows)
        if self.outcomes:
            sa_event.listen(session.sync_session, "after_commit",
                            lambda _session: self.committed(on_awards), once=True)

    def committed(self, on_awards: OnAwards | None) -> None:
        """After the commit: count the business metrics and hand the XP awards (student, amount,
        when) to `on_awards` (the leaderboards, a coroutine function) in a task of its own."""
        outcomes = [outcome for found in self.outcomes.values() for outcome in found]
        metrics.count(outcomes)
        awards = [(student_id, award.amount, award.occurred_at)
                  for student_id, found in self.outcomes.items() for outcome in found for award in outcome.xp_awards]
        if on_awards and awards:
            task = asyncio.get_running_loop().create_task(on_awards(awards))
            _tasks.add(task)
            task.add_done_callback(_tasks.discard)


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


_tasks: set[asyncio.Task] = set()


async def settle() -> None:
    """Wait for the leaderboard updates started so far (commands, tests)."""
    while _tasks:
        await asyncio.gather(*list(_tasks), return_exceptions=True)
