import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.lesson.domain import Booked, LessonStatus, Slot, check_schedulable, find_clashes
from shared.errors import Unprocessable

T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
TEACHER, STUDENT = uuid.uuid4(), uuid.uuid4()


def booked(start: datetime, minutes: int = 60, *, teacher=TEACHER, student=None,
           status=LessonStatus.SCHEDULED) -> Booked:
    return Booked(uuid.uuid4(), teacher, student or uuid.uuid4(), status, Slot.of(start, minutes))


def clashes(wanted: list[Slot], existing: list[Booked], **kwargs):
    return find_clashes(wanted, teacher_id=TEACHER, student_id=STUDENT, booked=existing, **kwargs)


def test_back_to_back_lessons_do_not_conflict():
    existing = [booked(T0)]
    assert clashes([Slot.of(T0 + timedelta(minutes=60), 60)], existing) == []
    assert clashes([Slot.of(T0 - timedelta(minutes=60), 60)], existing) == []


def test_one_minute_of_overlap_conflicts():
    existing = [booked(T0)]
    found = clashes([Slot.of(T0 + timedelta(minutes=59), 60)], existing)
    assert [(c.occurrence, c.lesson_id, c.busy) for c in found] == [(0, existing[0].lesson_id, "teacher")]
    assert clashes([Slot.of(T0 - timedelta(minutes=59), 60)], existing) != []


def test_a_lesson_inside_another_conflicts():
    assert clashes([Slot.of(T0 + timedelta(minutes=15), 15)], [booked(T0, 90)]) != []


def test_the_students_other_lessons_count_too():
    other_teachers = booked(T0, teacher=uuid.uuid4(), student=STUDENT)
    [clash] = clashes([Slot.of(T0, 45)], [other_teachers])
    assert clash.busy == "student"


def test_lessons_of_other_people_do_not_count():
    assert clashes([Slot.of(T0, 60)], [booked(T0, teacher=uuid.uuid4())]) == []


@pytest.mark.parametrize("status", [LessonStatus.COMPLETED, LessonStatus.CANCELLED])
def test_completed_and_cancelled_lessons_free_their_time(status):
    assert clashes([Slot.of(T0, 60)], [booked(T0, status=status)]) == []


def test_an_in_progress_lesson_holds_its_time():
    assert clashes([Slot.of(T0, 60)], [booked(T0, status=LessonStatus.IN_PROGRESS)]) != []


def test_a_rescheduled_lesson_does_not_conflict_with_itself():
    itself = booked(T0)
    assert clashes([Slot.of(T0 + timedelta(minutes=30), 60)], [itself], ignore=itself.lesson_id) == []


def test_every_clashing_occurrence_of_a_series_is_reported():
    series = [Slot.of(T0 + timedelta(weeks=i), 60) for i in range(4)]
    existing = [booked(T0 + timedelta(weeks=1)), booked(T0 + timedelta(weeks=3, minutes=30))]
    assert [c.occurrence for c in clashes(series, existing)] == [1, 3]


minutes = st.integers(min_value=0, max_value=10_000)
lengths = st.integers(min_value=15, max_value=480)


@given(minutes, lengths, minutes, lengths)
def test_overlap_is_symmetric_and_means_sharing_some_minute(a, la, b, lb):
    one, two = Slot.of(T0 + timedelta(minutes=a), la), Slot.of(T0 + timedelta(minutes=b), lb)
    assert one.overlaps(two) == two.overlaps(one)
    shares_a_minute = bool(set(range(a, a + la)) & set(range(b, b + lb)))
    assert one.overlaps(two) == shares_a_minute


NOW = T0


def test_a_lesson_in_the_past_cannot_be_scheduled():
    with pytest.raises(Unprocessable, match="future"):
        check_schedulable(NOW - timedelta(minutes=1), 60, NOW)


def test_a_start_without_an_offset_is_refused():
    with pytest.raises(Unprocessable, match="offset"):
        check_schedulable(datetime(2030, 1, 1, 10, 0), 60, NOW)


@pytest.mark.parametrize(("duration", "ok"), [(14, False), (15, True), (480, True), (481, False)])
def test_a_lesson_lasts_15_to_480_minutes(duration, ok):
    if ok:
        check_schedulable(NOW + timedelta(hours=1), duration, NOW)
    else:
        with pytest.raises(Unprocessable, match="duration"):
            check_schedulable(NOW + timedelta(hours=1), duration, NOW)


def test_a_lesson_more_than_two_years_ahead_is_refused():
    check_schedulable(NOW + timedelta(days=700), 60, NOW)
    with pytest.raises(Unprocessable, match="two years"):
        check_schedulable(datetime(9999, 12, 31, 23, 30, tzinfo=UTC), 60, NOW)
