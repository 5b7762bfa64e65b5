"""Rules of notifying: kinds, channels, preferences, quiet hours, retries, reminders. No I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Kind = Literal[
    "lesson_reminder", "lesson_rescheduled", "lesson_cancelled", "lesson_completed",
    "homework_assigned", "homework_submitted", "homework_graded", "homework_reminder",
    "payment_completed", "payment_refunded", "low_balance",
    "level_up", "achievement_earned", "material_uploaded", "link_created",
]
KINDS: tuple[str, ...] = get_args(Kind)
IN_APP = "in_app"
EXTERNAL_CHANNELS = ("email", "telegram")   # a new channel (push) is added here and in channels.py
ExternalChannel = Literal["email", "telegram"]
DeliveryStatus = Literal["pending", "sending", "sent", "failed", "skipped"]

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
DEFAULT_TIMEZONE = "Europe/Moscow"
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def normalise_locale(locale: str | None) -> str:
    """`en-GB` -> `en`; anything we have no templates for -> the default."""
    language = (locale or "").replace("_", "-").split("-")[0].lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def is_valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


# --- quiet hours ------------------------------------------------------------------------
def parse_hh_mm(value: str) -> time:
    if not _HH_MM.match(value):
        raise ValueError(f"{value!r} is not a time of day as HH:MM")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    """A daily window [start, end) in the user's time zone; it may wrap past midnight."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours must start and end at different times")

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(parse_hh_mm(start), parse_hh_mm(end))

    def as_strings(self) -> tuple[str, str]:
        return self.start.strftime("%H:%M"), self.end.strftime("%H:%M")

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def release(self, now: datetime, tz: ZoneInfo) -> datetime:
        """`now` when outside the window, else the moment the window ends (UTC)."""
        local = now.astimezone(tz)
        if not self.contains(local.time().replace(tzinfo=None)):
            return now
        day: date = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=tz).astimezone(UTC)


def hold_until(now: datetime, quiet: QuietHours | None, tz: ZoneInfo,
               deliver_by: datetime | None = None) -> datetime:
    """When a message due `now` may go out: after quiet hours, unless it cannot wait that long
    (it must arrive before `deliver_by`, e.g. the start of the lesson it reminds of)."""
    if quiet is None:
        return now
    release = quiet.release(now, tz)
    if deliver_by is not None and release >= deliver_by:
        return now
    return release


# --- preferences ------------------------------------------------------------------------
@dataclass
class Preferences:
    """Per kind, which external channels are on (on unless switched off); the in-app inbox
    is always on."""

    switched: dict[str, dict[str, bool]] = field(default_factory=dict)
    quiet_hours: QuietHours | None = None

    def allows(self, kind: str, channel: str) -> bool:
        if channel == IN_APP:
            return True
        return self.switched.get(kind, {}).get(channel, True)

    def channels_for(self, kind: str, available: tuple[str, ...] | list[str]) -> list[str]:
        return [c for c in available if c in EXTERNAL_CHANNELS and self.allows(kind, c)]

    def effective(self) -> dict[str, dict[str, bool]]:
        return {kind: {c: self.allows(kind, c) for c in EXTERNAL_CHANNELS} for kind in KINDS}

    @classmethod
    def from_stored(cls, switched: dict[str, Any] | None, start: str | None,
                    end: str | None) -> Preferences:
        known = {kind: {c: bool(v) for c, v in (channels or {}).items() if c in EXTERNAL_CHANNELS}
                 for kind, channels in (switched or {}).items() if kind in KINDS}
        quiet = QuietHours.parse(start, end) if start and end else None
        return cls(switched=known, quiet_hours=quiet)


# --- retries ----------------------------------------------------------------------------
def retry_delay(attempt: int, base: float, cap: float) -> timedelta:
    """Exponential back-off after the `attempt`-th failure (1, 2, 4 ... times `base`), capped."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def next_attempt_at(*, attempt: int, max_attempts: int, permanent: bool, now: datetime,
                    base: float, cap: float, retry_after: float | None = None) -> datetime | None:
    """When to try a failed delivery again, or None when it has failed for good."""
    if permanent or attempt >= max_attempts:
        return None
    delay = retry_delay(attempt, base, cap)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return now + delay


# --- lesson reminders -------------------------------------------------------------------
def reminder_due_at(starts_at: datetime, offset_minutes: int) -> datetime:
    return starts_at - timedelta(minutes=offset_minutes)


def reminders_to_arm(starts_at: datetime, now: datetime, offsets: list[int]) -> list[int]:
    """The reminders worth keeping for a lesson (re)scheduled at `now`: those still ahead; when
    all are past but the lesson is not, the closest one, which then goes out at once."""
    if now >= starts_at or not offsets:
        return []
    ahead = [o for o in offsets if reminder_due_at(starts_at, o) > now]
    return ahead or [min(offsets)]


def reminder_is_current(offset_minutes: int, starts_at: datetime, now: datetime,
                        offsets: list[int]) -> bool:
    """A due reminder is still worth sending: the lesson has not started and no reminder
    closer to the start is due too (that one speaks for both)."""
    if now >= starts_at:
        return False
    closer = [o for o in offsets if o < offset_minutes]
    return not any(reminder_due_at(starts_at, o) <= now for o in closer)


# --- balance ----------------------------------------------------------------------------
def is_low_balance_alert(balance: int, previous: int | None, threshold: int) -> bool:
    """Tell when the balance is under the threshold and went down (not on a top-up that
    still leaves it low, not again for the same balance)."""
    return balance < threshold and (previous is None or balance < previous)


# --- payloads to template data ----------------------------------------------------------
def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Template data as JSON: datetimes as ISO 8601 in UTC, UUIDs as strings."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, datetime):
            value = value.astimezone(UTC).isoformat()
        elif value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
            value = str(value)
        out[key] = value
    return out
