"""Rows staged in the unit of work: the one PostgreSQL statement is derived from the table objects;
a batch's events each get their own correlation context."""
import uuid

import pytest

from services.student.models import FactRow, StudentStateRow
from shared import context
from shared.events import UserCreated, make_event
from shared.outbox import OUTBOX, outbox_rows
from shared.staged import _arrays, _one_statement, write_of

FACTS, STATES = FactRow.__table__, StudentStateRow.__table__


def test_the_one_statement_names_each_tables_columns_and_types_from_the_table_objects():
    facts = write_of(FACTS, {"student_id": 1, "event_id": 2, "payload": {}, "type": "t"}, ignore_conflicts=True)
    states = write_of(STATES, {"student_id": 1, "state": {}, "updated_at": 0}, key=("student_id",))

    sql = str(_one_statement((facts, states)))

    assert facts.columns == ("student_id", "event_id", "type", "payload")  # the table's order, not the row's
    assert sql.startswith("WITH w0 AS (INSERT INTO facts (student_id, event_id, type, payload) SELECT * FROM unnest(")
    assert "CAST(:w0_payload AS JSONB[])" in sql and "CAST(:w0_event_id AS UUID[])" in sql
    assert "ON CONFLICT DO NOTHING)" in sql
    assert sql.endswith("UPDATE student_state SET state = s.state, updated_at = s.updated_at FROM unnest("
                        "CAST(:w1_student_id AS UUID[]), CAST(:w1_state AS JSONB[]), "
                        "CAST(:w1_updated_at AS TIMESTAMP WITH TIME ZONE[])) AS s(student_id, state, updated_at) "
                        "WHERE student_state.student_id = s.student_id")


def test_rows_become_one_array_per_column_with_json_as_text():
    events = [make_event(UserCreated(user_id=uuid.uuid4(), role="student", full_name=n, email="a@b.c"), producer="x")
              for n in ("Ann", "Bob")]
    rows = outbox_rows(events)
    write = write_of(OUTBOX, rows[0])

    params = _arrays((write,), [rows])

    assert params["w0_event_id"] == [e.id for e in events]
    assert [isinstance(body, str) and e.payload["full_name"] in body for e, body in zip(events, params["w0_body"])] \
        == [True, True]


def test_a_row_naming_no_column_of_the_table_or_no_key_is_refused():
    with pytest.raises(ValueError):
        write_of(FACTS, {"student_id": 1, "colour": "red"})
    with pytest.raises(ValueError):
        write_of(STATES, {"state": {}}, key=("student_id",))


def test_each_event_of_a_batch_is_entered_in_turn_and_the_batch_context_comes_back():
    events = [make_event(UserCreated(user_id=uuid.uuid4(), role="student", full_name="A", email="a@b.c"),
                         producer="x") for _ in range(3)]
    context.correlation_id.set("batch")
    context.causation_id.set(None)
    seen = [(context.correlation_id.get(), context.causation_id.get()) for _ in context.each_event(events)]

    assert seen == [(e.correlation_id, e.id) for e in events]
    assert (context.correlation_id.get(), context.causation_id.get()) == ("batch", None)
