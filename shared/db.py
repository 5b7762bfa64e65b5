"""The async engine of a service's database and the unit of work around one transaction."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.events import Event, Payload, make_event
from shared.outbox import OutboxMessage
from shared.sql import json_dumps


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

    `async with uow.read_only():` is a transaction that only reads: it ends without a rollback,
    so the rows it loaded keep their values after it (a rollback would expire them, and reading
    an expired attribute outside the transaction fails), and emit() and commit() refuse."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *, producer: str,
                 on_commit: Callable[[], None] | None = None) -> None:
        self._session_factory = session_factory
        self.producer = producer
        self._on_commit = on_commit
        self.session: AsyncSession
        self.events: list[Event] = []
        self._read_only = False

    def read_only(self) -> "UnitOfWork":
        """This unit of work, for one transaction that only reads."""
        self._read_only = True
        return self

    async def __aenter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self.events = []
        self._committed = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        # close() detaches what was loaded as it is; only a rollback expires it
        if not self._committed and not self._read_only:
            await self.session.rollback()
        self._read_only = False
        await self.session.close()

    def emit(self, payload: Payload, **kwargs: Any) -> Event:
        """Stage an event; it is written to the outbox in this transaction."""
        self._refuse_if_read_only("emit")
        event_ = make_event(payload, producer=self.producer, **kwargs)
        self.session.add(OutboxMessage.from_event(event_))
        self.events.append(event_)
        return event_

    async def commit(self) -> None:
        self._refuse_if_read_only("commit")
        await self.session.commit()
        self._committed = True
        if self.events and self._on_commit:
            self._on_commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    def _refuse_if_read_only(self, what: str) -> None:
        if self._read_only:
            raise RuntimeError(f"{what}() in a read-only unit of work")


def new_id() -> uuid.UUID:
    return uuid.uuid4()
