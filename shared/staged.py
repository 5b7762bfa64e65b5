"""Rows a transaction stages and writes in bulk just before its commit (`UnitOfWork.insert_rows`,
`update_rows`, the outbox rows of `emit`): column lists and their types come from the table objects."""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import JSON, Table, TextClause, and_, bindparam, insert, text, update
from sqlalchemy.dialects import postgresql

from shared.sql import insert_ignoring, json_dumps

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
    columns = tuple(name for name in table.c.keys() if name in names)  # noqa: SIM118 (columns, not a dict)
    return Write(table, columns, ignore_conflicts, key)


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
