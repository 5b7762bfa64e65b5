"""Cursor pagination: `?limit=&cursor=` in, `{"items", "next_cursor"}` out."""
from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from shared.errors import Unprocessable

T = TypeVar("T")


U = TypeVar("U")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None

    def map(self, public: Callable[[T], U]) -> Page[U]:
        """The same page with each item made into its public shape."""
        return Page[Any](items=[public(item) for item in self.items], next_cursor=self.next_cursor)


def _invalid_cursor() -> Unprocessable:
    return Unprocessable("Invalid cursor", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}])


def _aware_datetime(value: Any) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("a cursor's time has an offset")
    return parsed


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("not a count")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError("not text")
    return value


# how each kind of sort key is read back from a cursor (make_page wrote it as JSON, str() for the rest)
DECODERS: dict[type, Callable[[Any], Any]] = {datetime: _aware_datetime, uuid.UUID: uuid.UUID, int: _count, str: _text}


class PageParams(BaseModel):
    limit: int = 50
    cursor: str | None = None

    def after(self, *kinds: type) -> tuple[Any, ...] | None:
        """The sort key of the last item of the previous page, one value of each of `kinds`
        (`datetime` with an offset, `uuid.UUID`, `int` >= 0, `str`); None on the first page,
        422 for a cursor that is not such a key."""
        if not self.cursor:
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(self.cursor.encode() + b"==="))
            if not isinstance(value, list) or len(value) != len(kinds):
                raise ValueError("not a key of this list")
            return tuple(DECODERS[kind](item) for kind, item in zip(kinds, value, strict=True))
        except (ValueError, TypeError, OverflowError) as exc:
            raise _invalid_cursor() from exc


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


async def page_params(limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      cursor: Annotated[str | None, Query(max_length=500)] = None) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def make_page(rows: list[T], limit: int, key: Callable[[T], list[Any]]) -> Page[T]:
    """`rows` fetched with limit+1; `key(row)` gives the sort key the next page starts after."""
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[Any](items=rows, next_cursor=encode_cursor(key(rows[-1])) if more and rows else None)
