"""The event store and the read models it feeds: one function (`project`) applies events to the
read models, for the live consumer (`store_and_project`) and for `rebuild` alike, so both give the
same tables by construction.

A batch's writes (`domain.writes_of`) run grouped by kind in a fixed order that follows a
lesson's or a homework's life (scheduled before started before ended), each kind as one
executemany in the events' order. Every write is keyed (an upsert, an insert that skips what is
there, a guarded update), so the result does not depend on where batches are cut.
"""
from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics import metrics
from services.analytics.domain import UnreadablePayload, Write, concerns, writes_of
from services.analytics.models import (
    READ_MODELS,
    Activity,
    Balance,
    HomeworkFact,
    LearnedWord,
    LessonFact,
    MoneyEntry,
    StoredEvent,
    StudentTotals,
    StudiedMaterial,
)
from shared.db import UnitOfWork
from shared.events import Event, log_fields, utcnow
from shared.sql import dialect_insert

log = logging.getLogger(__name__)
STORE = StoredEvent.__table__


def stored_row(event: Event) -> dict[str, Any]:
    teacher_id, student_id = concerns(event)
    return {"event_id": event.id, "type": event.type, "version": event.version, "producer": event.producer,
            "occurred_at": event.occurred_at, "correlation_id": (event.correlation_id or None),
            "causation_id": event.causation_id, "teacher_id": teacher_id, "student_id": student_id,
            "payload": event.payload}


async def store_and_project(uow: UnitOfWork, events: Sequence[Event]) -> None:
    """The live path: the batch goes into the store (an event already there is skipped) and into
    the read models, in the consumer's transaction."""
    now = utcnow()
    uow.insert_rows(STORE, [{**stored_row(event), "stored_at": now} for event in events], ignore_conflicts=True)
    await project(uow.session, events)

    def count() -> None:
        stored = utcnow()
        for event in events:
            metrics.EVENTS_STORED.labels(event.type).inc()
            metrics.STORE_LAG.observe(max(0.0, (stored - event.occurred_at).total_seconds()))
    uow.after_commit(count)


async def project(session: AsyncSession, events: Sequence[Event]) -> None:
    """Apply events, in order, to the read models."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        for kind, params in _writes(event):
            by_kind[kind].append(params)
    connection = await session.connection()
    dialect = connection.dialect.name
    for kind in ORDER:
        if rows := by_kind.get(kind):
            if kind in _EXPRESSION_PARAMETERS:   # an expression's parameters may not be named like columns
                renamed = [{f"b_{name}": value for name, value in row.items()} for row in rows]
                rows = renamed if kind in _UPDATES else [{**a, **b} for a, b in zip(rows, renamed)]
            await connection.execute(_statement(kind, dialect), rows)


def _writes(event: Event) -> list[Write]:
    try:
        return writes_of(event)
    except UnreadablePayload as exc:
        metrics.UNPROJECTED.labels(event.type).inc()
        log.warning("stored without projecting: %s", exc, extra=log_fields(event))
        return []


async def rebuild(session_factory: Callable[[], Any], *, chunk: int = 5000,
                  progress: Callable[[int], None] | None = None) -> int:
    """Empty the read models and replay the whole store into them, in the order stored, through
    `project`. One transaction, so readers see the old tables until the new ones are complete.
    The number of events replayed."""
    started = time.perf_counter()
    replayed = 0
    async with session_factory() as session, session.begin():
        for model in READ_MODELS:
            await session.execute(delete(model))
        after = 0
        while True:
            rows = (await session.execute(select(*_ENVELOPE, STORE.c.seq).where(STORE.c.seq > after)
                                          .order_by(STORE.c.seq).limit(chunk))).all()
            if not rows:
                break
            await project(session, [event_of(row) for row in rows])
            after, replayed = rows[-1].seq, replayed + len(rows)
            if progress:
                progress(replayed)
    metrics.REBUILDS.inc()
    log.info("rebuilt the read models from %d events in %.1f s", replayed, time.perf_counter() - started)
    return replayed


_ENVELOPE = (STORE.c.event_id, STORE.c.type, STORE.c.version, STORE.c.occurred_at, STORE.c.producer,
             STORE.c.correlation_id, STORE.c.causation_id, STORE.c.payload)


def event_of(row: Any) -> Event:
    """The envelope of a stored event (a row of `stored_events`), as it was validated when stored."""
    return Event.model_construct(id=row.event_id, type=row.type, version=row.version, occurred_at=row.occurred_at,
                                 producer=row.producer, correlation_id=row.correlation_id,
                                 causation_id=row.causation_id, payload=row.payload)


# --- the statements, one per kind of write ------------------------------------------------------
_UPDATES = frozenset({"lesson_rescheduled", "lesson_started"})
_EXPRESSION_PARAMETERS = _UPDATES | {"refund"}
ORDER = ("lesson_scheduled", "lesson_rescheduled", "lesson_started", "lesson_ended", "homework_assigned",
         "homework_updated", "homework_submitted", "homework_graded", "money", "refund", "balance", "activity", "totals",
         "learned_word", "studied_material")


@functools.cache
def _statement(kind: str, dialect: str) -> Any:
    return _BUILDERS[kind](dialect)


def _insert_ignoring(table: Any) -> Callable[[str], Any]:
    return lambda dialect: dialect_insert(dialect, table.__table__).on_conflict_do_nothing()


def _upsert(table: Any, key: list[str], overwrite: Sequence[str], keep: Sequence[str] = (),
            fill: Sequence[str] = ()) -> Callable[[str], Any]:
    """Insert, or on the key set `overwrite` columns to the new values, `keep` columns to the
    stored value when there is one, and `fill` columns to the new value when there is one."""
    def build(dialect: str) -> Any:
        stmt = dialect_insert(dialect, table.__table__)
        stored = table.__table__.c
        changes = {name: stmt.excluded[name] for name in overwrite}
        changes |= {name: func.coalesce(stored[name], stmt.excluded[name]) for name in keep}
        changes |= {name: func.coalesce(stmt.excluded[name], stored[name]) for name in fill}
        return stmt.on_conflict_do_update(index_elements=key, set_=changes)
    return build


def _newer_value(table: Table, name: str, excluded: Any) -> Any:
    return case((excluded[name] > table.c[name], excluded[name]), else_=table.c[name])


def _lesson_rescheduled(dialect: str) -> Any:
    lessons = LessonFact.__table__
    return (update(lessons).where(lessons.c.lesson_id == bindparam("b_lesson_id"),
                                  or_(lessons.c.status == "scheduled", lessons.c.status == "in_progress"))
            .values(starts_at=bindparam("b_starts_at"),
                    duration_minutes=func.coalesce(bindparam("b_duration_minutes"), lessons.c.duration_minutes)))


def _lesson_started(dialect: str) -> Any:
    lessons = LessonFact.__table__
    return (update(lessons).where(lessons.c.lesson_id == bindparam("b_lesson_id"), lessons.c.status == "scheduled")
            .values(status="in_progress"))


def _refund(dialect: str) -> Any:
    """A refund counts against the teacher of the payment it returns (when the event names none)."""
    money = MoneyEntry.__table__
    paid_to = (select(money.c.teacher_id).where(and_(money.c.payment_id == bindparam("b_payment_id"),
                                                     money.c.kind == "payment")).limit(1).scalar_subquery())
    return dialect_insert(dialect, money).values(
        teacher_id=func.coalesce(bindparam("b_teacher_id"), paid_to)).on_conflict_do_nothing()


def _balance(dialect: str) -> Any:
    balances = Balance.__table__
    stmt = dialect_insert(dialect, balances)
    return stmt.on_conflict_do_update(
        index_elements=["student_id"], set_={"balance": stmt.excluded.balance, "currency": stmt.excluded.currency,
                                             "at": stmt.excluded.at},
        where=stmt.excluded.at >= balances.c.at)


def _totals(dialect: str) -> Any:
    totals = StudentTotals.__table__
    stmt = dialect_insert(dialect, totals)
    return stmt.on_conflict_do_update(index_elements=["student_id"], set_={
        "total_xp": _newer_value(totals, "total_xp", stmt.excluded),
        "level": _newer_value(totals, "level", stmt.excluded)})


_LESSON_OPTIONAL = ("subject", "lesson_type", "duration_minutes", "price", "currency")
_BUILDERS: dict[str, Callable[[str], Any]] = {
    "lesson_scheduled": _insert_ignoring(LessonFact),
    "lesson_rescheduled": _lesson_rescheduled,
    "lesson_started": _lesson_started,
    "lesson_ended": _upsert(LessonFact, ["lesson_id"], overwrite=(
        "teacher_id", "student_id", "starts_at", "status", "attended", "score", "cancelled_by_role", "ended_at"),
        fill=_LESSON_OPTIONAL),
    "homework_assigned": _upsert(HomeworkFact, ["homework_id"], overwrite=("title", "assigned_at"),
                                 keep=("due_at",)),
    "homework_updated": _upsert(HomeworkFact, ["homework_id"], overwrite=("title", "due_at")),
    "homework_submitted": _upsert(HomeworkFact, ["homework_id"],
                                  overwrite=("due_at", "submitted_at", "on_time")),
    "homework_graded": _upsert(HomeworkFact, ["homework_id"], overwrite=("score", "max_score", "graded_at")),
    "money": _insert_ignoring(MoneyEntry),
    "refund": _refund,
    "balance": _balance,
    "activity": _insert_ignoring(Activity),
    "totals": _totals,
    "learned_word": _insert_ignoring(LearnedWord),
    "studied_material": _insert_ignoring(StudiedMaterial),
}
