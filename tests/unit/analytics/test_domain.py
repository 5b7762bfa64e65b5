"""The analytics rules without I/O: what an event writes, weeks in a zone, rates, streaks, risk,
and the range a request asks for."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.analytics import domain
from shared.events import Event, HomeworkUpdated, LessonCancelled, LessonCompleted, XpEarned

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 3, 11, 12, tzinfo=UTC)   # a Wednesday


def envelope(payload, **extra) -> Event:
    return Event(type=payload.event_type, producer="test", occurred_at=NOW,
                 payload={**payload.model_dump(mode="json"), **extra})


def test_a_completed_attended_lesson_is_a_lesson_row_and_an_activity():
    teacher, student = uuid.uuid4(), uuid.uuid4()
    event = envelope(LessonCompleted(lesson_id=uuid.uuid4(), teacher_id=teacher, student_id=student, subject="m",
                                     starts_at=NOW, duration_minutes=45, score=90, price=100))
    writes = domain.writes_of(event)
    assert [kind for kind, _ in writes] == ["lesson_ended", "activity"]
    assert writes[0][1]["status"] == "completed" and writes[0][1]["currency"] == "RUB"
    assert domain.concerns(event) == (teacher, student)


def test_an_absent_student_has_a_lesson_but_no_activity():
    event = envelope(LessonCompleted(lesson_id=uuid.uuid4(), teacher_id=uuid.uuid4(), student_id=uuid.uuid4(),
                                     subject="m", starts_at=NOW, duration_minutes=45, attended=False))
    assert [kind for kind, _ in domain.writes_of(event)] == ["lesson_ended"]


@pytest.mark.parametrize("who, named, role", [("teacher", None, "teacher"), ("student", None, "student"),
                                              ("stranger", None, "other"), ("stranger", "parent", "parent")])
def test_who_cancelled_is_the_named_role_or_the_side_of_the_lesson(who, named, role):
    teacher, student = uuid.uuid4(), uuid.uuid4()
    by = {"teacher": teacher, "student": student, "stranger": uuid.uuid4()}[who]
    payload = LessonCancelled(lesson_id=uuid.uuid4(), teacher_id=teacher, student_id=student, cancelled_by=by,
                              reason="ill", starts_at=NOW)
    event = envelope(payload, **({"cancelled_by_role": named} if named else {}))
    assert domain.writes_of(event)[0][1]["cancelled_by_role"] == role


def test_an_unknown_type_writes_nothing_and_an_unreadable_payload_is_refused():
    assert domain.writes_of(Event(type="invoice.issued", producer="x", payload={})) == []
    with pytest.raises(domain.UnreadablePayload):
        domain.writes_of(Event(type="xp.earned", producer="student", payload={"student_id": "nope"}))
    xp = envelope(XpEarned(student_id=uuid.uuid4(), amount=5, source="lesson", total_xp=5))
    assert [kind for kind, _ in domain.writes_of(xp)] == ["activity", "totals"]


def test_a_changed_homework_takes_its_new_title_and_due_time():
    payload = HomeworkUpdated(homework_id=uuid.uuid4(), teacher_id=uuid.uuid4(), student_id=uuid.uuid4(),
                              title="Дроби", due_at=NOW, max_score=10)
    assert domain.writes_of(envelope(payload)) == [("homework_updated", {
        "homework_id": payload.homework_id, "teacher_id": payload.teacher_id, "student_id": payload.student_id,
        "title": "Дроби", "due_at": NOW})]


def test_a_week_starts_on_monday_in_the_viewers_zone():
    sunday_night_utc = datetime(2026, 3, 8, 22, tzinfo=UTC)   # already Monday 01:00 in Moscow
    assert domain.week_of(sunday_night_utc, MOSCOW) == date(2026, 3, 9)
    assert domain.week_of(sunday_night_utc, ZoneInfo("UTC")) == date(2026, 3, 2)


def test_weeks_and_months_between_cover_the_range_once():
    start = datetime(2026, 2, 25, tzinfo=MOSCOW)
    end = datetime(2026, 3, 10, tzinfo=MOSCOW)
    assert domain.weeks_between(start, end, MOSCOW) == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)]
    assert domain.months_between(start, end, MOSCOW) == [date(2026, 2, 1), date(2026, 3, 1)]


def test_rates_and_percentages():
    assert domain.rate(2, 3) == 0.667 and domain.rate(1, 0) is None
    assert domain.percent(7, 10) == 70.0 and domain.percent(None, 10) is None and domain.percent(3, 0) is None


def test_a_streak_counts_days_back_from_today_or_yesterday():
    today = date(2026, 3, 11)
    assert domain.streak([today, today - timedelta(days=1), today - timedelta(days=3)], today) == 2
    assert domain.streak([today - timedelta(days=1), today - timedelta(days=2)], today) == 2
    assert domain.streak([today - timedelta(days=2)], today) == 0


def test_scores_fall_when_the_last_three_are_ten_points_below_the_three_before():
    assert domain.falling([90, 90, 90, 80, 80, 80])
    assert not domain.falling([90, 90, 90, 81, 81, 81])
    assert not domain.falling([90, 50, 50])            # too few to tell


def test_a_student_is_at_risk_when_inactive_for_14_days_or_falling():
    assert domain.risk_of(None, [], NOW).at_risk
    assert domain.risk_of(NOW - timedelta(days=14), [], NOW).inactive
    assert not domain.risk_of(NOW - timedelta(days=13), [], NOW).at_risk
    assert domain.risk_of(NOW, [100, 100, 100, 50, 50, 50], NOW).falling_scores


def test_the_default_window_is_whole_weeks_up_to_the_end_of_this_one():
    start, end = domain.window(None, None, None, now=NOW, tz=MOSCOW, default_weeks=2, max_days=800)
    assert (start, end) == (datetime(2026, 3, 2, tzinfo=MOSCOW).astimezone(UTC),
                            datetime(2026, 3, 16, tzinfo=MOSCOW).astimezone(UTC))
    start, end = domain.window(NOW, None, 1, now=NOW, tz=MOSCOW, default_weeks=2, max_days=800)
    assert end - start == timedelta(weeks=1)


@pytest.mark.parametrize("start, end, field", [
    (NOW, NOW, "to"), (NOW - timedelta(days=900), NOW, "from"),
    (datetime(1, 1, 1, tzinfo=UTC), None, "from"), (None, datetime(9999, 12, 31, tzinfo=UTC), "to")])
def test_a_window_that_is_empty_or_too_long_is_refused(start, end, field):
    with pytest.raises(domain.BadWindow) as refused:
        domain.window(start, end, None, now=NOW, tz=MOSCOW, default_weeks=2, max_days=800)
    assert refused.value.field == field


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=400))
def test_every_moment_of_a_range_falls_in_one_of_its_weeks(start, days):
    end = start + timedelta(days=days)
    weeks = domain.weeks_between(start, end, MOSCOW)
    assert weeks == sorted(set(weeks))
    for moment in (start, end - timedelta(microseconds=1), start + (end - start) / 2):
        assert domain.week_of(moment, MOSCOW) in weeks
