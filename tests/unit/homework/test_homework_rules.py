"""The homework rules without I/O: computed status, on time, grading, file names."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.homework.domain import (
    HomeworkStatus,
    check_due,
    check_score,
    ensure_gradable,
    ensure_submittable,
    ensure_visible,
    is_on_time,
    safe_file_name,
    status_at,
)
from shared.auth import Principal
from shared.errors import InvalidTransition, NotFound, Unprocessable

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TEACHER, STUDENT, PARENT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


class Hw:
    def __init__(self, status: str = "assigned", due_at: datetime = NOW) -> None:
        self.teacher_id, self.student_id, self.status, self.due_at = TEACHER, STUDENT, status, due_at


def test_an_assigned_homework_past_its_due_time_is_overdue_and_a_submitted_one_is_not():
    assert status_at("assigned", NOW, NOW) == HomeworkStatus.ASSIGNED
    assert status_at("assigned", NOW, NOW + timedelta(seconds=1)) == HomeworkStatus.OVERDUE
    assert status_at("submitted", NOW, NOW + timedelta(days=3)) == HomeworkStatus.SUBMITTED
    assert status_at("graded", NOW, NOW + timedelta(days=3)) == HomeworkStatus.GRADED


@given(st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=30)))
def test_a_submission_is_on_time_exactly_when_it_comes_by_the_due_time(offset):
    assert is_on_time(NOW + offset, NOW) is (offset <= timedelta(0))


def test_grading_needs_a_submission_and_the_latest_one():
    latest = uuid.uuid4()
    with pytest.raises(InvalidTransition):
        ensure_gradable(Hw("assigned"), None, None)
    with pytest.raises(InvalidTransition):
        ensure_gradable(Hw("submitted"), latest, uuid.uuid4())   # a newer one came in
    assert ensure_gradable(Hw("submitted"), latest, None) == latest
    assert ensure_gradable(Hw("graded"), latest, latest) == latest   # a re-grade


def test_a_graded_homework_takes_no_more_submissions():
    ensure_submittable(Hw("submitted"))
    with pytest.raises(InvalidTransition):
        ensure_submittable(Hw("graded"))


def test_scores_and_due_times_out_of_range_name_their_field():
    with pytest.raises(Unprocessable) as error:
        check_score(11, 10)
    assert error.value.errors == [{"loc": ["body", "score"], "msg": "must be between 0 and max_score (10)"}]
    with pytest.raises(Unprocessable):
        check_due(NOW - timedelta(minutes=1), NOW)
    with pytest.raises(Unprocessable):
        check_due(NOW + timedelta(days=800), NOW)
    check_due(NOW + timedelta(hours=1), NOW)


def who(user_id: uuid.UUID, role: str) -> Principal:
    return Principal(user_id, role, jti="t", expires_at=0)


def test_only_the_participants_and_the_students_parents_see_a_homework():
    hw = Hw()
    for actor, children in ((who(TEACHER, "teacher"), ()), (who(STUDENT, "student"), ()),
                            (who(PARENT, "parent"), (STUDENT,))):
        ensure_visible(actor, hw, children)
    for actor in (who(uuid.uuid4(), "teacher"), who(uuid.uuid4(), "student"), who(PARENT, "parent")):
        with pytest.raises(NotFound):
            ensure_visible(actor, hw, ())


@pytest.mark.parametrize(("sent", "kept"), [
    ("Решение.pdf", "Решение.pdf"), ("../../etc/passwd", "passwd"), ("C:\\Users\\me\\a.docx", "a.docx"),
    ("", "file"), (None, "file"), ("..", "file"), ("a\x00b\nc.txt", "abc.txt"), ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
])
def test_file_names_keep_their_last_part_without_control_characters(sent, kept):
    assert safe_file_name(sent) == kept
