from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notification.domain import (
    KINDS,
    Preferences,
    QuietHours,
    hold_until,
    is_low_balance_alert,
    jsonable,
    next_attempt_at,
    normalise_locale,
    reminder_is_current,
    reminders_to_arm,
    retry_delay,
    zone,
)

UTC = UTC
MOSCOW = ZoneInfo("Europe/Moscow")  # UTC+3 all year
NIGHT = QuietHours(time(22, 0), time(8, 0))


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    """A moment given in Moscow time, as UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


# --- quiet hours ------------------------------------------------------------------------
@pytest.mark.parametrize(("moment", "inside"), [
    (time(21, 59), False), (time(22, 0), True), (time(23, 30), True), (time(0, 0), True),
    (time(7, 59), True), (time(8, 0), False), (time(12, 0), False),
])
def test_quiet_hours_that_wrap_past_midnight_contain_the_night(moment, inside):
    assert NIGHT.contains(moment) is inside


def test_quiet_hours_within_one_day():
    siesta = QuietHours(time(13, 0), time(15, 0))
    assert siesta.contains(time(13, 0)) and siesta.contains(time(14, 59))
    assert not siesta.contains(time(15, 0)) and not siesta.contains(time(12, 59))


def test_a_message_due_late_in_the_evening_waits_until_next_morning_in_the_users_zone():
    assert NIGHT.release(at(23, 15), MOSCOW) == at(8, 0, day=11)


def test_a_message_due_after_midnight_waits_until_the_same_morning():
    assert NIGHT.release(at(3, 0), MOSCOW) == at(8, 0)


def test_a_message_due_outside_quiet_hours_goes_now():
    assert NIGHT.release(at(12, 0), MOSCOW) == at(12, 0)


def test_quiet_hours_follow_the_users_time_zone_not_utc():
    tokyo = ZoneInfo("Asia/Tokyo")  # 23:00 in Tokyo is 17:00 in Moscow
    moment = datetime(2026, 3, 10, 23, 0, tzinfo=tokyo).astimezone(UTC)
    assert NIGHT.release(moment, tokyo) == datetime(2026, 3, 11, 8, 0, tzinfo=tokyo).astimezone(UTC)
    assert NIGHT.release(moment, MOSCOW) == moment


def test_what_cannot_wait_for_the_end_of_quiet_hours_goes_at_once():
    lesson_at_7 = at(7, 0, day=11)
    assert hold_until(at(23, 0), NIGHT, MOSCOW, deliver_by=lesson_at_7) == at(23, 0)


def test_what_can_wait_waits_even_with_a_deadline():
    lesson_at_10 = at(10, 0, day=11)
    assert hold_until(at(23, 0), NIGHT, MOSCOW, deliver_by=lesson_at_10) == at(8, 0, day=11)


def test_no_quiet_hours_means_no_wait():
    assert hold_until(at(3, 0), None, MOSCOW) == at(3, 0)


def test_quiet_hours_must_not_be_empty():
    with pytest.raises(ValueError):
        QuietHours.parse("22:00", "22:00")
    with pytest.raises(ValueError):
        QuietHours.parse("25:00", "08:00")


times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
zones = st.sampled_from(["Europe/Moscow", "Asia/Tokyo", "America/New_York", "Europe/London", "UTC"])


@given(start=times, end=times, now=moments, tz_name=zones)
def test_held_messages_go_out_when_quiet_hours_end_and_never_later_than_a_day(start, end, now, tz_name):
    if start == end:
        return
    quiet, tz = QuietHours(start, end), ZoneInfo(tz_name)
    release = quiet.release(now, tz)
    assert now <= release <= now + timedelta(hours=25)  # 25: a day of a clock change
    if release > now:
        assert quiet.contains(now.astimezone(tz).time())
        assert release.astimezone(tz).time() == end or not quiet.contains(release.astimezone(tz).time())
    else:
        assert not quiet.contains(now.astimezone(tz).time())


# --- preferences --------------------------------------------------------------------------
def test_every_channel_is_on_until_switched_off():
    preferences = Preferences(switched={"achievement_earned": {"email": False}})
    assert preferences.allows("achievement_earned", "telegram")
    assert not preferences.allows("achievement_earned", "email")
    assert preferences.allows("level_up", "email")
    assert preferences.channels_for("achievement_earned", ("email", "telegram")) == ["telegram"]


def test_the_in_app_inbox_cannot_be_switched_off():
    preferences = Preferences(switched={"level_up": {"in_app": False}})
    assert preferences.allows("level_up", "in_app")


def test_effective_preferences_list_every_kind():
    effective = Preferences().effective()
    assert set(effective) == set(KINDS)
    assert all(channels == {"email": True, "telegram": True} for channels in effective.values())


def test_stored_preferences_ignore_kinds_and_channels_no_longer_known():
    preferences = Preferences.from_stored(
        {"old_kind": {"email": False}, "level_up": {"fax": False, "telegram": False}}, "22:00", "08:00")
    assert preferences.switched == {"level_up": {"telegram": False}}
    assert preferences.quiet_hours == NIGHT


# --- retries --------------------------------------------------------------------------------
def test_back_off_doubles_and_is_capped():
    delays = [retry_delay(n, base=30, cap=600).total_seconds() for n in range(1, 7)]
    assert delays == [30, 60, 120, 240, 480, 600]


@given(st.integers(1, 60), st.floats(0.01, 100), st.floats(100, 10_000))
def test_back_off_never_shrinks(attempt, base, cap):
    assert retry_delay(attempt + 1, base, cap) >= retry_delay(attempt, base, cap)
    assert retry_delay(attempt, base, cap) <= timedelta(seconds=cap)


def test_a_failed_attempt_is_retried_until_the_last_one():
    now = at(12)
    assert next_attempt_at(attempt=1, max_attempts=3, permanent=False, now=now, base=10, cap=100) \
        == now + timedelta(seconds=10)
    assert next_attempt_at(attempt=3, max_attempts=3, permanent=False, now=now, base=10, cap=100) is None


def test_a_permanent_failure_is_not_retried():
    assert next_attempt_at(attempt=1, max_attempts=5, permanent=True, now=at(12), base=10, cap=100) is None


def test_the_channel_may_ask_to_wait_longer():
    now = at(12)
    assert next_attempt_at(attempt=1, max_attempts=5, permanent=False, now=now, base=10, cap=100,
                           retry_after=45) == now + timedelta(seconds=45)


# --- reminders ------------------------------------------------------------------------------
OFFSETS = [24 * 60, 60]


def test_a_lesson_scheduled_days_ahead_gets_both_reminders():
    assert reminders_to_arm(at(12) + timedelta(days=3), at(12), OFFSETS) == [1440, 60]


def test_a_lesson_scheduled_two_hours_ahead_gets_only_the_one_hour_reminder():
    assert reminders_to_arm(at(14), at(12), OFFSETS) == [60]


def test_a_lesson_scheduled_half_an_hour_ahead_is_reminded_at_once():
    assert reminders_to_arm(at(12, 30), at(12), OFFSETS) == [60]


def test_a_lesson_in_the_past_gets_no_reminder():
    assert reminders_to_arm(at(11), at(12), OFFSETS) == []


def test_a_due_reminder_gives_way_to_a_closer_one_that_is_due_too():
    starts_at = at(12, 30)
    assert not reminder_is_current(1440, starts_at, at(12), OFFSETS)
    assert reminder_is_current(60, starts_at, at(12), OFFSETS)


def test_a_reminder_is_not_sent_once_the_lesson_has_started():
    assert not reminder_is_current(60, at(12), at(12, 5), OFFSETS)


# --- balance, locale, data --------------------------------------------------------------------
@pytest.mark.parametrize(("balance", "previous", "alert"), [
    (50_000, None, True),       # first time seen, already low
    (50_000, 150_000, True),    # went under the threshold
    (20_000, 50_000, True),     # went further down
    (50_000, 50_000, False),    # the same event's balance again
    (60_000, 20_000, False),    # a top-up that leaves it low
    (150_000, 50_000, False),   # not low
    (-30_000, 0, True),         # a debt
])
def test_low_balance_is_told_when_it_goes_down_under_the_threshold(balance, previous, alert):
    assert is_low_balance_alert(balance, previous, threshold=100_000) is alert


@pytest.mark.parametrize(("given_locale", "expected"), [
    ("en", "en"), ("en-GB", "en"), ("EN_us", "en"), ("ru", "ru"), ("de", "ru"), (None, "ru"), ("", "ru"),
])
def test_locales_without_templates_fall_back_to_russian(given_locale, expected):
    assert normalise_locale(given_locale) == expected


def test_an_unknown_time_zone_falls_back_to_moscow():
    assert zone("Mars/Olympus") == MOSCOW
    assert zone("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")


def test_template_data_is_json():
    import uuid
    value = uuid.uuid4()
    data = jsonable({"id": value, "at": datetime(2026, 3, 10, 12, tzinfo=MOSCOW), "n": 1, "none": None})
    assert data == {"id": str(value), "at": "2026-03-10T09:00:00+00:00", "n": 1, "none": None}
