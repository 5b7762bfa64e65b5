import uuid

import pytest

from services.notification.domain import KINDS, LOCALES, jsonable
from services.notification.templates import Renderer

STUDENT, PARENT = uuid.uuid4(), uuid.uuid4()
LESSON = {"lesson_id": uuid.uuid4(), "lesson_name": "Algebra", "subject": "Mathematics",
          "starts_at": "2026-03-10T10:00:00+00:00"}
# the data each kind is created with (notices.py, reminders.py)
SAMPLES = {
    "lesson_reminder": {**LESSON, "offset_minutes": 60},
    "lesson_rescheduled": {**LESSON, "old_starts_at": "2026-03-09T10:00:00+00:00"},
    "lesson_cancelled": {**LESSON, "reason": "ill", "cancelled_by_name": "Anna"},
    "lesson_completed": {"student_id": STUDENT, "student_name": "Ivan", "subject": "Mathematics",
                         "starts_at": "2026-03-10T10:00:00+00:00", "score": 90, "attended": True},
    "homework_assigned": {"homework_id": uuid.uuid4(), "title": "Exercises 1-5",
                          "due_at": "2026-03-12T18:00:00+00:00", "teacher_name": "Anna"},
    "homework_submitted": {"homework_id": uuid.uuid4(), "title": "Exercises 1-5", "student_name": "Ivan",
                           "submitted_at": "2026-03-11T18:00:00+00:00", "on_time": True},
    "homework_graded": {"homework_id": uuid.uuid4(), "title": "Exercises 1-5", "score": 8, "max_score": 10,
                        "feedback": "Good"},
    "homework_reminder": {"homework_id": uuid.uuid4(), "title": "Exercises 1-5", "due_at": "2026-03-12T18:00:00+00:00"},
    "payment_completed": {"amount": 150_000, "currency": "RUB", "student_id": STUDENT, "student_name": "Ivan"},
    "payment_refunded": {"amount": 50_000, "currency": "RUB", "student_id": STUDENT, "student_name": "Ivan"},
    "low_balance": {"balance": -30_000, "currency": "RUB", "threshold": 100_000, "student_id": STUDENT,
                    "student_name": "Ivan"},
    "level_up": {"old_level": 2, "new_level": 3, "xp": 450},
    "achievement_earned": {"code": "first_lesson", "title": "First steps", "tier": "rare",
                           "earned_at": "2026-03-10T10:00:00+00:00"},
    "material_uploaded": {"material_id": uuid.uuid4(), "title": "Verbs", "subject": "English",
                          "teacher_name": "Anna"},
    "link_created": {"relation": "parent", "user_id": uuid.uuid4(), "name": "Pavel"},
}
renderer = Renderer()


def test_every_kind_has_sample_data():
    assert set(SAMPLES) == set(KINDS)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_language(kind, locale):
    rendered = renderer.render(kind, jsonable(SAMPLES[kind]), locale=locale, timezone="Europe/Moscow",
                               recipient_id=STUDENT)
    assert rendered.title and "\n" not in rendered.title
    assert rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>") and f'lang="{locale}"' in rendered.html


def test_an_achievement_is_told_in_the_users_language():
    data = jsonable(SAMPLES["achievement_earned"])
    english = renderer.render("achievement_earned", data, locale="en", timezone="UTC")
    russian = renderer.render("achievement_earned", data, locale="ru", timezone="UTC")
    assert english.title == "New achievement: First steps"
    assert "rare" in english.text
    assert russian.title == "Новое достижение: First steps"
    assert "редкое" in russian.text


def test_times_are_shown_in_the_users_time_zone():
    data = jsonable(SAMPLES["lesson_reminder"])  # 10:00 UTC
    moscow = renderer.render("lesson_reminder", data, locale="ru", timezone="Europe/Moscow")
    tokyo = renderer.render("lesson_reminder", data, locale="en", timezone="Asia/Tokyo")
    assert "10.03.2026 в 13:00" in moscow.text
    assert "10 Mar 2026 at 19:00" in tokyo.text


def test_money_is_shown_in_major_units():
    data = jsonable(SAMPLES["payment_completed"])
    assert "1,500.00 RUB" in renderer.render("payment_completed", data, locale="en", timezone=None).title
    assert "1\u00a0500,00\u00a0₽" in renderer.render("payment_completed", data, locale="ru", timezone=None).title


def test_the_student_and_the_parent_read_different_words():
    data = jsonable(SAMPLES["lesson_completed"])
    to_student = renderer.render("lesson_completed", data, locale="en", timezone=None, recipient_id=STUDENT)
    to_parent = renderer.render("lesson_completed", data, locale="en", timezone=None, recipient_id=PARENT)
    assert to_student.text.startswith("You have completed")
    assert to_parent.text.startswith("Ivan has completed")


def test_html_escapes_what_people_typed():
    data = jsonable({**SAMPLES["lesson_cancelled"], "reason": "<script>alert(1)</script>"})
    rendered = renderer.render("lesson_cancelled", data, locale="en", timezone=None)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>" in rendered.text  # plain text is plain


def test_a_lesson_without_a_known_name_still_reads_well():
    data = jsonable({**SAMPLES["lesson_cancelled"], "lesson_name": None, "subject": None,
                     "cancelled_by_name": None, "reason": ""})
    rendered = renderer.render("lesson_cancelled", data, locale="en", timezone="UTC")
    assert rendered.text == "The lesson on 10 Mar 2026 at 10:00 has been cancelled."


def test_the_teacher_is_told_of_a_low_balance_against_their_own_threshold():
    teacher = uuid.uuid4()
    data = jsonable({**SAMPLES["low_balance"], "teacher_id": teacher})
    text = renderer.render("low_balance", data, locale="en", timezone=None, recipient_id=teacher).text
    assert "Ivan with you is -300.00 RUB, which is a debt: below your threshold of 1,000.00 RUB" in text
    parent = renderer.render("low_balance", data, locale="ru", timezone=None, recipient_id=uuid.uuid4()).text
    assert "Пополните" in parent
