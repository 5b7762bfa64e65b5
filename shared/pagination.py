"""Cursor pagination: `?limit=&cursor=` in, `{"items", "next_cursor"}` out."""
from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from shared.errors import Unprocessable

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PageParams(BaseModel):
    limit: int = 50
    cursor: str | None = None

    def after(self) -> list[Any] | None:
        """The sort key of the last item of the previous page."""
        if not self.cursor:
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(self.cursor.encode() + b"==="))
        except (ValueError, json.JSONDecodeError) as exc:
            raise Unprocessable("Invalid cursor", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}]) from exc
        if not isinstance(value, list):
            raise Unprocessable("Invalid cursor", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}])
        return value


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


async def page_params(limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      cursor: Annotated[str | None, Query(max_length=500)] = None) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def make_page(rows: list[T], limit: int, key: Any) -> dict[str, Any]:
    """`rows` fetched with limit+1; `key(row)` gives the sort key the next page starts after."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}
