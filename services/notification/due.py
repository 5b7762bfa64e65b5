"""What lesson and homework reminders share: a reminder is a row armed by an upsert (inserted,
or moved to a new due time), and the dispatcher takes the due ones with `FOR UPDATE SKIP LOCKED`
and marks each with its outcome in the transaction that creates its notifications, so a restart
loses none and two instances never send one twice."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from prometheus_client import Counter
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import UnitOfWork
from shared.sql import insert_for

S = TypeVar("S")


async def arm(session: AsyncSession, reminder: type, key: dict[str, Any], *, due_at: datetime,
              pending: bool) -> None:
    """Insert the reminder of `key` (its primary key's columns), or move it to `due_at`; one that
    is not `pending` is kept as `stale` so that a later change can arm it again."""
    values = {"due_at": due_at, "state": "pending" if pending else "stale", "handled_at": None}
    await session.execute(insert_for(session, reminder).values(**key, **values).on_conflict_do_update(
        index_elements=[getattr(reminder, column) for column in key], set_=values))


async def send_due(uow: UnitOfWork, reminder: Any, subject: type[S], on: ColumnElement[bool], now: datetime, *,
                   limit: int, outcome: Callable[[Any, S], str], send: Callable[[Any, S], Awaitable[None]],
                   counter: Counter) -> int:
    """Take up to `limit` pending reminders due at `now` with what they remind of (`subject`,
    joined `on`), mark each with its `outcome`, `send` those whose outcome is "sent" and count
    every outcome; returns how many were sent."""
    rows = (await uow.session.execute(
        select(reminder, subject).join(subject, on)
        .where(reminder.state == "pending", reminder.due_at <= now)
        .order_by(reminder.due_at).limit(limit)
        .with_for_update(of=reminder, skip_locked=True))).all()
    sent = 0
    for row, about in rows:
        row.state, row.handled_at = outcome(row, about), now
        if row.state == "sent":
            await send(row, about)
            sent += 1
        counter.labels(row.state).inc()
    return sent
