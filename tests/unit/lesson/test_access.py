import uuid
from dataclasses import dataclass

import pytest

from services.lesson.domain import booking_teacher, ensure_may_cancel, ensure_may_run, ensure_visible
from shared.auth import Principal
from shared.errors import Forbidden, NotFound, Unprocessable


@dataclass
class Pair:
    teacher_id: uuid.UUID
    student_id: uuid.UUID


LESSON = Pair(uuid.uuid4(), uuid.uuid4())


def who(role: str, user_id: uuid.UUID | None = None) -> Principal:
    return Principal(user_id or uuid.uuid4(), role, "jti", 0)


TEACHER = who("teacher", LESSON.teacher_id)
STUDENT = who("student", LESSON.student_id)
PARENT = who("parent")
ADMIN = who("admin")


@pytest.mark.parametrize("actor", [TEACHER, STUDENT, ADMIN])
def test_participants_and_admins_see_the_lesson(actor):
    ensure_visible(actor, LESSON)


def test_a_parent_sees_their_childs_lessons_only():
    ensure_visible(PARENT, LESSON, children=[LESSON.student_id])
    with pytest.raises(NotFound):
        ensure_visible(PARENT, LESSON, children=[uuid.uuid4()])


@pytest.mark.parametrize("actor", [who("teacher"), who("student"), who("parent")])
def test_a_stranger_is_told_the_lesson_does_not_exist(actor):
    with pytest.raises(NotFound):
        ensure_visible(actor, LESSON)


def test_a_missing_lesson_is_not_found():
    with pytest.raises(NotFound):
        ensure_visible(ADMIN, None)


@pytest.mark.parametrize("actor", [TEACHER, ADMIN])
def test_the_teacher_or_an_admin_runs_the_lesson(actor):
    ensure_may_run(actor, LESSON)


@pytest.mark.parametrize("actor", [STUDENT, PARENT])
def test_a_student_or_parent_may_not_start_complete_or_reschedule(actor):
    with pytest.raises(Forbidden):
        ensure_may_run(actor, LESSON)


@pytest.mark.parametrize("actor", [TEACHER, STUDENT, ADMIN])
def test_the_teacher_the_student_or_an_admin_may_cancel(actor):
    ensure_may_cancel(actor, LESSON)


def test_a_parent_may_not_cancel():
    with pytest.raises(Forbidden):
        ensure_may_cancel(PARENT, LESSON)


def test_a_teacher_books_their_own_lessons():
    assert booking_teacher(TEACHER, None) == TEACHER.id
    assert booking_teacher(TEACHER, TEACHER.id) == TEACHER.id
    with pytest.raises(Forbidden):
        booking_teacher(TEACHER, uuid.uuid4())


def test_an_admin_names_the_teacher():
    other = uuid.uuid4()
    assert booking_teacher(ADMIN, other) == other
    with pytest.raises(Unprocessable):
        booking_teacher(ADMIN, None)
