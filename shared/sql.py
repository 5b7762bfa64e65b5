"""What every service's tables share: column types, the naming convention, the declarative bases
and statement builders that work on PostgreSQL and SQLite alike.

Hot paths (the inbox claim, the outbox relay, the student service's batch) run statements built
once, as Core on the session's connection (`await session.connection()`): a statement object used
again keeps its cache key, and Core execution skips the ORM's compile state and autoflush (ORM
objects added to the session are still flushed at its commit). That halves the client CPU of a
statement.
"""
from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, MetaData, Table, TypeDecorator, any_, bindparam, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from shared.events import utcnow

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
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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


class MessagingBase(DeclarativeBase):
    """Outbox and inbox tables (`shared.outbox`, `shared.inbox`), present in every service's database."""

    metadata = new_metadata()


def json_dumps(value: Any) -> str:
    """JSON for the database's JSON columns: orjson (several times the standard library's speed on
    the hot paths: states, outbox bodies, facts); keys that are not strings become strings."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


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
