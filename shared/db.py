"""Async SQLAlchemy engine, the declarative base each service derives from, and the unit of work.

Hot paths (the inbox claim, the outbox relay, the student service's batch) run statements built
once, as Core on the session's connection (`await session.connection()`): a statement object used
again keeps its cache key, and Core execution skips the ORM's compile state and autoflush (ORM
objects added to the session are still flushed at its commit). That halves the client CPU of a
statement.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import (JSON, DateTime, MetaData, Table, TextClause, TypeDecorator, and_, any_, bindparam, event,
                        func, insert, text, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from shared.background import Background
from shared.events import Event, Payload, make_event, utcnow

log = logging.getLogger(__name__)
JSONType = JSON().with_variant(JSONB(), "postgresql")

class UtcDateTime(TypeDecorator):
    """An aware datetime stored in UTC and read back aware on every database (SQLite drops it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING)


class Base(DeclarativeBase):
    """Base for a service's tables; each service makes its own subclass with its own metadata."""

    __abstract__ = True


def json_dumps(value: Any) -> str:
    """JSON for the database's JSON columns: orjson (several times the standard library's speed on
    the hot paths: states, outbox bodies, facts); keys that are not strings become strings."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


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


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT with the ON CONFLICT clauses of the session's database (PostgreSQL or SQLite)."""
    return dialect_insert(session.bind.dialect.name if session.bind else "postgresql", table)


def dialect_insert(dialect: str, table: Any) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def one_of(column: Any, name: str, dialect: str) -> Any:
    """`column IN (the values of :name)` as one SQL text whatever the number of values: on
    PostgreSQL `= ANY(:name)` with an array, so that asyncpg prepares the statement once per
    connection instead of once per list length (each new length was a Parse round trip and a
    plan, and pushed other statements out of the cache); an expanding IN on SQLite."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


@functools.cache
def insert_ignoring(dialect: str, table: Table) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` into `table`, built once per database kind."""
    return dialect_insert(dialect, table).on_conflict_do_nothing()


async def upsert_fields(session: AsyncSession, model: Any, key: dict[str, Any], fields: dict[str, Any], *,
                        overwrite: bool) -> None:
    """Store `fields` of the row whose primary key is `key` (inserted when missing) and stamp its
    `updated_at`. `overwrite` replaces stored values; otherwise only fields still unknown (NULL)
    are filled. What read models learn from events that may arrive in any order."""
    stmt = insert_for(session, model).values(**key, **fields, updated_at=utcnow())
    stored = model.__table__.c
    changes = {name: stmt.excluded[name] if overwrite else func.coalesce(stored[name], stmt.excluded[name])
               for name in fields}
    await session.execute(stmt.on_conflict_do_update(
        index_elements=list(key), set_={**changes, "updated_at": stmt.excluded.updated_at}))


class UnitOfWork:
    """One transaction: rolls back on exit unless commit() was called; events commit with it.

    Rows can be staged (`insert_rows`, `update_rows`, and the outbox rows of `emit`/`emit_many`) and
    are then written in bulk just before the commit (`Staged`). Callbacks registered with
    `after_commit` run once the commit succeeded; the coroutines they return run as tasks of the
    service's `background` (awaited at once when there is none).

    A block entered while another block of the same unit of work is open is a savepoint of its
    transaction: its `commit()` keeps its work for the enclosing block to commit, leaving it without
    `commit()` undoes only its own work. That lets a caller wrap a use case that commits itself in a
    larger transaction (`shared.idempotency` stores the answer with the change)."""

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

    async def __aenter__(self) -> "UnitOfWork":
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
        if not self._committed:
            await self.session.rollback()
        await self.session.close()

    def emit(self, payload: Payload, **kwargs: Any) -> Event:
        """Stage an event; it is written to the outbox in this transaction."""
        event_ = make_event(payload, producer=self.producer, **kwargs)
        self._stage_outbox([event_])
        return event_

    def emit_many(self, payloads: Iterable[Payload | tuple[Payload, datetime]]) -> list[Event]:
        """Stage many events at once (a payload, or a payload and when it occurred); their outbox
        rows are written in one statement with the transaction's other staged rows."""
        events = [make_event(item[0], producer=self.producer, occurred_at=item[1]) if isinstance(item, tuple)
                  else make_event(item, producer=self.producer) for item in payloads]
        self._stage_outbox(events)
        return events

    def _stage_outbox(self, events: list[Event]) -> None:
        from shared.outbox import OUTBOX, outbox_rows

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


# --- rows staged in a transaction and written in bulk before its commit -----------------------
_POSTGRESQL = postgresql.dialect()


@dataclasses.dataclass(frozen=True)
class Write:
    """How staged rows go into one table: inserted (optionally skipping rows whose key is taken),
    or, with `key`, updating the rows with those key columns from the other columns."""

    table: Table
    columns: tuple[str, ...]
    ignore_conflicts: bool = False
    key: tuple[str, ...] = ()


class Staged:
    """The staged rows of one transaction by `Write`, in the order first staged.

    On PostgreSQL every write goes in one statement: data-modifying CTEs over `unnest` of one array
    per column. A busy machine makes each round trip slow (it waits for the event loop and for
    PostgreSQL), so a transaction that writes five tables pays one instead of five; the text depends
    only on which tables and columns are written, not on the number of rows, so asyncpg prepares it
    once per connection. Elsewhere (SQLite) each write is one executemany."""

    def __init__(self) -> None:
        self.rows: dict[Write, list[dict[str, Any]]] = {}

    def add(self, write: Write, rows: Iterable[dict[str, Any]]) -> None:
        self.rows.setdefault(write, []).extend(rows)

    def clear(self) -> None:
        self.rows = {}

    async def flush(self, connection: Any) -> None:
        """Write every staged row in this transaction, and forget them."""
        staged, self.rows = self.rows, {}
        dialect = connection.dialect.name
        if dialect == "postgresql":
            writes = tuple(staged)
            await connection.execute(_one_statement(writes), _arrays(writes, staged.values()))
            return
        for write, rows in staged.items():
            await connection.execute(_statement(dialect, write), _keyed(write, rows))


def write_of(table: Table, row: dict[str, Any], *, ignore_conflicts: bool = False,
             key: tuple[str, ...] = ()) -> Write:
    """The `Write` of rows shaped like `row`: the columns of `table` that it names, in table order."""
    return _write(table, tuple(row), ignore_conflicts, key)


@functools.cache
def _write(table: Table, names: tuple[str, ...], ignore_conflicts: bool, key: tuple[str, ...]) -> Write:
    if unknown := set(names) - set(table.c.keys()):
        raise ValueError(f"{table.name} has no columns {sorted(unknown)}")
    if not set(key) <= set(names):
        raise ValueError(f"rows of {table.name} must name their key {key}")
    return Write(table, tuple(name for name in table.c.keys() if name in names), ignore_conflicts, key)


def _unnest(index: int, write: Write) -> str:
    return "unnest(" + ", ".join(
        f"CAST(:w{index}_{name} AS {write.table.c[name].type.compile(dialect=_POSTGRESQL)}[])"
        for name in write.columns) + ")"


def _sql(index: int, write: Write) -> str:
    table, columns = write.table.name, write.columns
    if write.key:
        changed = ", ".join(f"{name} = s.{name}" for name in columns if name not in write.key)
        matched = " AND ".join(f"{table}.{name} = s.{name}" for name in write.key)
        return (f"UPDATE {table} SET {changed} FROM {_unnest(index, write)} AS s({', '.join(columns)}) "
                f"WHERE {matched}")
    conflict = " ON CONFLICT DO NOTHING" if write.ignore_conflicts else ""
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM {_unnest(index, write)}{conflict}"


@functools.cache
def _one_statement(writes: tuple[Write, ...]) -> TextClause:
    *first, last = [_sql(index, write) for index, write in enumerate(writes)]
    ctes = ", ".join(f"w{index} AS ({sql})" for index, sql in enumerate(first))
    return text(f"WITH {ctes} {last}" if ctes else last)


@functools.cache
def _json_columns(write: Write) -> frozenset[str]:
    return frozenset(name for name in write.columns
                     if isinstance(write.table.c[name].type.dialect_impl(_POSTGRESQL), JSON))


def _arrays(writes: tuple[Write, ...], rows_by_write: Iterable[list[dict[str, Any]]]) -> dict[str, list[Any]]:
    """The parameters of the one statement: each write's rows as one list per column (JSON as text)."""
    params: dict[str, list[Any]] = {}
    for index, (write, rows) in enumerate(zip(writes, rows_by_write)):
        json_columns = _json_columns(write)
        for name in write.columns:
            values = [row[name] for row in rows]
            params[f"w{index}_{name}"] = [json_dumps(v) for v in values] if name in json_columns else values
    return params


@functools.cache
def _statement(dialect: str, write: Write) -> Any:
    table = write.table
    if write.key:
        return (update(table).where(and_(*(table.c[name] == bindparam(f"key_{name}") for name in write.key)))
                .values({name: bindparam(name) for name in write.columns if name not in write.key}))
    return insert_ignoring(dialect, table) if write.ignore_conflicts else insert(table)


def _keyed(write: Write, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Update rows with their key under the names that `_statement` binds in its WHERE."""
    if not write.key:
        return rows
    return [{**{f"key_{name}": row[name] for name in write.key},
             **{name: row[name] for name in write.columns if name not in write.key}} for row in rows]


def new_id() -> uuid.UUID:
    return uuid.uuid4()
