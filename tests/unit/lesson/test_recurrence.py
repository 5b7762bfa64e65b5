from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.lesson.domain import DEFAULT_TIMEZONE, weekly_starts, zone
from shared.errors import Unprocessable

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_weekly_series_keeps_its_local_time_across_the_spring_change():
    # Europe/Berlin moves to summer time on 2026-03-29
    first = datetime(2026, 3, 17, 18, 0, tzinfo=BERLIN)
    starts = weekly_starts(first, 4, BERLIN)
    assert [s.astimezone(BERLIN).strftime("%a %H:%M") for s in starts] == ["Tue 18:00"] * 4
    assert [s.strftime("%H:%M") for s in starts] == ["17:00", "17:00", "16:00", "16:00"]  # UTC
    assert all(s.tzinfo == UTC for s in starts)


def test_a_weekly_series_keeps_its_local_time_across_the_autumn_change():
    first = datetime(2026, 10, 20, 9, 30, tzinfo=BERLIN)  # back to winter time on 2026-10-25
    starts = weekly_starts(first, 2, BERLIN)
    assert [s.astimezone(BERLIN).strftime("%H:%M") for s in starts] == ["09:30", "09:30"]
    assert starts[1] - starts[0] == timedelta(days=7, hours=1)


def test_the_series_follows_the_teachers_zone_not_the_offset_the_client_sent():
    # the client wrote the time in UTC; the teacher lives in Berlin
    first = datetime(2026, 3, 24, 17, 0, tzinfo=UTC)  # 18:00 in Berlin
    second = weekly_starts(first, 2, BERLIN)[1]
    assert second.astimezone(BERLIN).hour == 18


def test_a_single_occurrence_is_the_start_itself():
    first = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert weekly_starts(first, 1, BERLIN) == [first]


@pytest.mark.parametrize("count", [0, 53])
def test_a_series_has_1_to_52_occurrences(count):
    with pytest.raises(Unprocessable):
        weekly_starts(datetime(2026, 7, 1, tzinfo=UTC), count, BERLIN)


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus_Mons", "../etc/passwd"])
def test_an_unknown_time_zone_falls_back_to_the_platform_default(name):
    assert zone(name) == ZoneInfo(DEFAULT_TIMEZONE)


zones = st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Europe/Moscow", "Asia/Tehran"])


@settings(max_examples=300)
@given(zones, st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2035, 1, 1)),
       st.integers(min_value=1, max_value=52))
def test_every_occurrence_is_a_week_apart_at_the_same_wall_clock_time(zone_name, local, count):
    tz = ZoneInfo(zone_name)
    first = local.replace(second=0, microsecond=0, tzinfo=tz).astimezone(UTC)
    wall = first.astimezone(tz)
    for i, start in enumerate(weekly_starts(first, count, tz)):
        here = start.astimezone(tz).replace(tzinfo=None)
        wanted = wall.replace(tzinfo=None) + timedelta(weeks=i)
        if here != wanted:  # only where that wall time does not exist: it lands past the one-hour gap
            assert here - wanted == timedelta(hours=1)
            assert wanted.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wanted
