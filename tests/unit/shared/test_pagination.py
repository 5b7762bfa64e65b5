"""Cursor pagination: a page's sort key goes out in `next_cursor` and comes back typed."""
import uuid
from datetime import UTC, datetime

import pytest

from shared.errors import Unprocessable
from shared.pagination import PageParams, encode_cursor, make_page

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
ID = uuid.UUID("8f8e3f51-7b0f-4a51-9d38-0c7e1c3c2a10")


def test_a_next_cursor_gives_back_the_last_rows_sort_key_as_its_types():
    rows = [(WHEN, ID), (WHEN, uuid.uuid4())]
    page = make_page(rows, 1, lambda row: [row[0].isoformat(), row[1]])
    assert PageParams(cursor=page.next_cursor).after(datetime, uuid.UUID) == (WHEN, ID)


def test_counts_and_text_come_back_too():
    assert PageParams(cursor=encode_cursor([40])).after(int) == (40,)
    assert PageParams(cursor=encode_cursor(["ann@example.org"])).after(str) == ("ann@example.org",)


def test_the_first_page_has_no_key():
    assert PageParams().after(int) is None


@pytest.mark.parametrize("key, kinds", [
    (["not a time", str(ID)], (datetime, uuid.UUID)),
    (["2026-03-01T09:30:00", str(ID)], (datetime, uuid.UUID)),   # no offset
    ([WHEN.isoformat(), "not an id"], (datetime, uuid.UUID)),
    ([WHEN.isoformat()], (datetime, uuid.UUID)),                  # a key of another list
    ([-1], (int,)),
    ([True], (int,)),
    (["1"], (int,)),
    (["a\x00b"], (str,)),
    ({"id": 1}, (int,)),
])
def test_a_cursor_that_is_not_a_key_of_the_list_is_422(key, kinds):
    with pytest.raises(Unprocessable):
        PageParams(cursor=encode_cursor(key)).after(*kinds)


def test_a_cursor_that_is_not_base64_json_is_422():
    with pytest.raises(Unprocessable):
        PageParams(cursor="%%%").after(int)
    with pytest.raises(Unprocessable):
        PageParams(cursor="bm90IGpzb24").after(int)   # "not json"
