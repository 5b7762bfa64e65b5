import uuid
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from services.lesson import events
from services.lesson.calendar import to_ical
from services.lesson.models import Lesson
from shared.events import LessonCompleted

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
TEACHER, STUDENT = uuid.uuid4(), uuid.uuid4()


def lesson(**changes) -> Lesson:
    start = NOW + timedelta(days=1)
    values = dict(id=uuid.uuid4(), teacher_id=TEACHER, student_id=STUDENT, subject="Maths", title="Fractions",
                  lesson_type="regular", starts_at=start, ends_at=start + timedelta(minutes=60),
                  duration_minutes=60, status="scheduled", sequence=0, price_amount=150000, currency="RUB",
                  series_id=None, created_at=NOW, updated_at=NOW, attendance=None, score=None)
    return Lesson(**{**values, **changes})


def test_each_lesson_is_an_event_with_a_stable_uid_utc_times_and_the_other_persons_name():
    booked, dropped = lesson(), lesson(status="cancelled", sequence=2, cancellation_reason="ill")
    document = to_ical([booked, dropped], {STUDENT: "Sasha Petrova", TEACHER: "Anna Ivanova"},
                       viewer_id=TEACHER, now=NOW)
    parsed = Calendar.from_ical(document)
    vevents = parsed.walk("VEVENT")
    assert [str(e["UID"]) for e in vevents] == [str(booked.id), str(dropped.id)]
    first = vevents[0]
    assert first.decoded("DTSTART") == booked.starts_at and first.decoded("DTSTART").utcoffset() == timedelta(0)
    assert first.decoded("DTEND") == booked.ends_at
    assert str(first["SUMMARY"]) == "Fractions — Sasha Petrova"
    assert str(first["STATUS"]) == "CONFIRMED"
    assert (str(vevents[1]["STATUS"]), int(vevents[1]["SEQUENCE"])) == ("CANCELLED", 2)
    assert b"DTSTART:" in document and b"Z\r\n" in document  # UTC form, no TZID


def test_an_empty_calendar_is_still_a_valid_document():
    parsed = Calendar.from_ical(to_ical([], {}, viewer_id=TEACHER, now=NOW))
    assert str(parsed["VERSION"]) == "2.0" and parsed.walk("VEVENT") == []


@pytest.mark.parametrize(("attendance", "attended"), [("present", True), ("late", True),
                                                       ("absent", False), ("excused", False)])
def test_lesson_completed_carries_attendance_attended_and_the_price_in_minor_units(attendance, attended):
    done = lesson(status="completed", attendance=attendance, score=75, completed_at=NOW)
    payload = LessonCompleted.model_validate(events.completed(done).model_dump(mode="json"))
    assert (payload.attended, payload.attendance, payload.score) == (attended, attendance, 75)
    assert (payload.price, payload.currency) == (150000, "RUB")
    assert (payload.subject, payload.lesson_type, payload.duration_minutes) == ("Maths", "regular", 60)


def test_a_lesson_without_a_price_completes_with_no_price():
    payload = events.completed(lesson(status="completed", attendance="present", price_amount=None,
                                      currency=None, completed_at=NOW))
    assert payload.price is None
