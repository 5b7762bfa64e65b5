"""The async engine of a service's database and the unit of work around one transaction."""
from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.background import Background
from shared.events import Event, Payload, make_event
from shared.outbox import OUTBOX, outbox_rows
from shared.sql import json_dumps
from shared.staged import Staged, write_of

log = logging.getLogger(__name__)


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    json_codec = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **json_codec)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin_immediate(conn: Any) -> None:
            # serialise writers up front instead of failing on lock upgrade
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: on asyncpg it costs three round trips (BEGIN, a query, ROLLBACK) per checkout,
    # as much as a consumer transaction's own statements. A connection found dead instead fails
    # its one operation, and that error makes the pool drop every connection opened before it: a
    # request gets a 503 to retry (shared.errors), a batch of events is retried by the consumer.
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, **json_codec)


class UnitOfWork:
    """One transaction: rolls back on exit unless commit() was called; events commit with it.

    Rows can be staged (`insert_rows`, `update_rows`, and the outbox rows of `emit`/`emit_many`) and
    are then written in bulk just before the commit (`Staged`). Callbacks registered with
    `after_commit` run once the commit succeeded; the coroutines they return run as tasks of the
    service's `background` (awaited at once when there is none).

    A block entered while another block of the same unit of work is open is a savepoint of its
    transaction: its `commit()` keeps its work for the enclosing block to commit, leaving it without
    `commit()` undoes only its own work. That lets a caller wrap a use case that commits itself in a
    larger transaction (`shared.idempotency` stores the answer with the change).

    `async with uow.read_only():` is a transaction that only reads: it ends without a rollback,
    so the rows it loaded keep their values after it (a rollback would expire them, and reading
    an expired attribute outside the transaction fails), and emit() and commit() refuse."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, producer: str,
                 on_commit: Callable[[], None] | None = None, background: Background | None = None) -> None:
        self._session_factory = session_factory
        self.producer = producer
        self._on_commit = on_commit
        self.background = background
        self.session: AsyncSession
        self.events: list[Event] = []
        self._open = False
        self._savepoints: list[tuple[Any, int, int]] = []  # (savepoint, events, callbacks) before it
        self._read_only = False

    def read_only(self) -> UnitOfWork:
        """This unit of work, for one transaction that only reads."""
        self._read_only = True
        return self

    async def __aenter__(self) -> UnitOfWork:
        if self._open:
            await self._write_staged()  # what the enclosing block staged is not undone with the savepoint
            self._savepoints.append((await self.session.begin_nested(), len(self.events), len(self._after_commit)))
            self._committed = False
            return self
        self.session = self._session_factory()
        self.events = []
        self._staged = Staged()
        self._after_commit: list[Callable[[], Any]] = []
        self._committed = False
        self._open = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._savepoints:
            savepoint, events, callbacks = self._savepoints.pop()
            if not self._committed:
                await savepoint.rollback()
                self._staged.clear()
                del self.events[events:], self._after_commit[callbacks:]
            self._committed = False  # the enclosing block has yet to commit
            return
        self._open = False
        # close() detaches what was loaded as it is; only a rollback expires it
        if not self._committed and not self._read_only:
            await self.session.rollback()
        self._read_only = False
        await self.session.close()

    def emit(self, payload: Payload, **kwargs: Any) -> Event:
        """Stage an event; it is written to the outbox in this transaction."""
        self._refuse_if_read_only("emit")
        event_ = make_event(payload, producer=self.producer, **kwargs)
        self._stage_outbox([event_])
        return event_

    def emit_many(self, payloads: Iterable[Payload | tuple[Payload, datetime]]) -> list[Event]:
        """Stage many events at once (a payload, or a payload and when it occurred); their outbox
        rows are written in one statement with the transaction's other staged rows."""
        self._refuse_if_read_only("emit_many")
        events = [make_event(item[0], producer=self.producer, occurred_at=item[1]) if isinstance(item, tuple)
                  else make_event(item, producer=self.producer) for item in payloads]
        self._stage_outbox(events)
        return events

    def _stage_outbox(self, events: list[Event]) -> None:
        if events:
            self.insert_rows(OUTBOX, outbox_rows(events))
            self.events += events

    def insert_rows(self, table: Table, rows: list[dict[str, Any]], *, ignore_conflicts: bool = False) -> None:
        """Stage rows to insert into `table` (`ignore_conflicts`: skip rows whose key is taken)."""
        if rows:
            self._staged.add(write_of(table, rows[0], ignore_conflicts=ignore_conflicts), rows)

    def update_rows(self, table: Table, rows: list[dict[str, Any]], *, key: tuple[str, ...]) -> None:
        """Stage updates: each row sets its other columns on the row of `table` with its `key` columns
        (one row per key)."""
        if rows:
            self._staged.add(write_of(table, rows[0], key=key), rows)

    def after_commit(self, callback: Callable[[], Any]) -> None:
        """Call `callback()` once this transaction has committed (never after a rollback)."""
        self._after_commit.append(callback)

    async def commit(self) -> None:
        self._refuse_if_read_only("commit")
        await self._write_staged()
        if self._savepoints:
            await self._savepoints[-1][0].commit()
            self._committed = True
            return
        await self.session.commit()
        self._committed = True
        if self.events and self._on_commit:
            self._on_commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            await self._run_after_commit(callback)

    async def _write_staged(self) -> None:
        if self._staged.rows:
            await self._staged.flush(await self.session.connection())

    async def _run_after_commit(self, callback: Callable[[], Any]) -> None:
        # boundary: the change is committed, so a failure here must not make the caller retry it
        try:
            result = callback()
            if inspect.isawaitable(result):
                if self.background is not None:
                    self.background.start(result)
                else:
                    await result
        except Exception:
            log.exception("an after-commit callback of %s failed", self.producer)

    async def rollback(self) -> None:
        await self.session.rollback()
        self._staged.clear()
        self._after_commit = []

    def _refuse_if_read_only(self, what: str) -> None:
        if self._read_only:
            raise RuntimeError(f"{what}() in a read-only unit of work")


def new_id() -> uuid.UUID:
    return uuid.uuid4()
