"""What the engine knows about one student (StudentState) and what it learns from (Fact)."""
from __future__ import annotations

import base64
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

STATE_FORMAT = 1
ONE_DAY = timedelta(days=1)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


@dataclass(frozen=True)
class Fact:
    """One learning fact, made from an event: its id, type, time, payload and the student's zone then."""

    event_id: UUID
    type: str
    occurred_at: datetime
    timezone: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.event_id, UUID):
            object.__setattr__(self, "event_id", UUID(str(self.event_id)))
        if self.occurred_at.tzinfo is None:
            raise ValueError("a fact's occurred_at must be timezone-aware")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        zone(self.timezone)

    @classmethod
    def from_event(cls, event: Any, timezone_name: str) -> Fact:
        """From an event envelope (anything with id, type, occurred_at, payload)."""
        return cls(event.id, event.type, event.occurred_at, timezone_name, dict(event.payload))

    def local(self, moment: datetime) -> datetime:
        """An instant in the student's zone as it was for this fact."""
        return moment.astimezone(zone(self.timezone))

    @property
    def local_date(self) -> date:
        return self.local(self.occurred_at).date()

    @property
    def local_time(self) -> time:
        return self.local(self.occurred_at).time()

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "timezone": self.timezone,
            "payload": dict(self.payload),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fact:
        return cls(
            UUID(data["event_id"]),
            data["type"],
            datetime.fromisoformat(data["occurred_at"]),
            data["timezone"],
            dict(data.get("payload") or {}),
        )


def compact_key(value: Any) -> str:
    """A key to remember (an event id, a lesson id ...): UUIDs shortened to 22 characters."""
    if not isinstance(value, UUID):
        try:
            value = UUID(str(value))
        except ValueError:
            return str(value)
    return base64.urlsafe_b64encode(value.bytes).decode()[:22]


@dataclass
class StudentState:
    """Everything the engine needs to decide for one student; stored as one JSON row (to_dict)."""

    total_xp: int = 0
    level: int = 1
    learning_days: list[date] = field(default_factory=list)  # sorted, distinct
    longest_streak: int = 0
    longest_gap: int = 0  # the most days without learning ever seen between two learning days
    metrics: dict[str, int | float] = field(default_factory=dict)  # raw counts and sums
    seen: dict[str, set[str]] = field(default_factory=dict)  # uniqueness scope -> keys seen
    daily: dict[str, dict[str, int | float]] = field(default_factory=dict)  # windowed metric -> day -> raw
    cap_usage: dict[str, dict[str, int]] = field(default_factory=dict)  # XP source -> day -> XP given
    flags: set[str] = field(default_factory=set)  # event rules some fact has matched
    earned: dict[str, datetime] = field(default_factory=dict)  # achievement -> earned_at, award order
    ruleset_version: int | None = None

    # --- learning days and streaks ------------------------------------------------------
    def is_learning_day(self, day: date) -> bool:
        place = bisect_left(self.learning_days, day)
        return place < len(self.learning_days) and self.learning_days[place] == day

    def add_learning_day(self, day: date) -> set[str]:
        """Record a learning day; returns the inputs that changed ('streak', 'gap')."""
        if self.is_learning_day(day):
            return set()
        days = self.learning_days
        place = bisect_left(days, day)
        days.insert(place, day)
        changed: set[str] = set()
        run = self._run_ending(self._last_of_run(place)) if days else 0
        if run > self.longest_streak:
            self.longest_streak = run
            changed.add("streak")
        gaps = [(day - days[place - 1]).days - 1] if place > 0 else []
        gaps += [(days[place + 1] - day).days - 1] if place + 1 < len(days) else []
        if gaps and max(gaps) > self.longest_gap:
            self.longest_gap = max(gaps)
            changed.add("gap")
        return changed

    def _last_of_run(self, place: int) -> date:
        days = self.learning_days
        while place + 1 < len(days) and days[place + 1] - days[place] == ONE_DAY:
            place += 1
        return days[place]

    def _run_ending(self, last: date) -> int:
        run, day = 0, last
        while self.is_learning_day(day):
            run, day = run + 1, day - ONE_DAY
        return run

    def current_streak(self, today: date) -> int:
        """Consecutive learning days ending today or, when today has none yet, yesterday."""
        if self.is_learning_day(today):
            return self._run_ending(today)
        return self._run_ending(today - ONE_DAY)

    def streak_at_risk(self, today: date) -> int:
        """The streak that ends tonight unless today becomes a learning day (0 if none)."""
        return 0 if self.is_learning_day(today) else self._run_ending(today - ONE_DAY)

    # --- storage ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "ruleset_version": self.ruleset_version,
            "total_xp": self.total_xp,
            "level": self.level,
            "learning_days": _runs(self.learning_days),
            "longest_streak": self.longest_streak,
            "longest_gap": self.longest_gap,
            "metrics": dict(sorted(self.metrics.items())),
            "seen": {scope: sorted(keys) for scope, keys in sorted(self.seen.items())},
            "daily": {name: dict(sorted(days.items())) for name, days in sorted(self.daily.items())},
            "cap_usage": {source: dict(sorted(days.items())) for source, days in sorted(self.cap_usage.items())},
            "flags": sorted(self.flags),
            "earned": [[code, moment.isoformat()] for code, moment in self.earned.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudentState:
        if data.get("format", STATE_FORMAT) != STATE_FORMAT:
            raise ValueError(f"unknown student state format {data.get('format')!r}")
        # keys this model does not know (such as "applied") are ignored
        return cls(
            total_xp=data.get("total_xp", 0),
            level=data.get("level", 1),
            learning_days=_days_of_runs(data.get("learning_days", [])),
            longest_streak=data.get("longest_streak", 0),
            longest_gap=data.get("longest_gap", 0),
            metrics=dict(data.get("metrics", {})),
            seen={scope: set(keys) for scope, keys in data.get("seen", {}).items()},
            daily={name: dict(days) for name, days in data.get("daily", {}).items()},
            cap_usage={source: dict(days) for source, days in data.get("cap_usage", {}).items()},
            flags=set(data.get("flags", [])),
            earned={code: datetime.fromisoformat(moment) for code, moment in data.get("earned", [])},
            ruleset_version=data.get("ruleset_version"),
        )

    def copy(self) -> StudentState:
        return StudentState.from_dict(self.to_dict())


def _runs(days: list[date]) -> list[list[Any]]:
    """Sorted days as [[first day, length], ...]: a long streak costs one entry."""
    runs: list[list[Any]] = []
    for day in days:
        if runs and date.fromisoformat(runs[-1][0]) + timedelta(days=runs[-1][1]) == day:
            runs[-1][1] += 1
        else:
            runs.append([day.isoformat(), 1])
    return runs


def _days_of_runs(runs: list[list[Any]]) -> list[date]:
    days = []
    for first, length in runs:
        start = date.fromisoformat(first)
        days += [start + timedelta(days=offset) for offset in range(length)]
    return sorted(set(days))
