"""Achievement conditions against a student's state: satisfied or not, progress, what is missing."""
from __future__ import annotations

from datetime import date
from typing import Any

from services.student.payload import instant
from services.student.rulefile import (
    AllOfRule,
    AnyOfRule,
    CounterRule,
    EventRule,
    GapRule,
    LevelRule,
    StreakRule,
    SumRule,
    WindowRule,
    flag_name,
)
from services.student.ruleset import RuleSet
from services.student.state import Fact, StudentState

Number = int | float
STREAK_UNIT = {"ru": "дней подряд", "en": "days in a row"}
LEVEL_UNIT = {"ru": "уровней", "en": "levels"}


def event_matches(rule: EventRule, fact: Fact) -> bool:
    """Whether one fact meets an event rule; a local time range reads the named instant in the student's zone."""
    if fact.type != rule.fact or not rule.where.matches(fact.payload):
        return False
    if rule.local_time is None:
        return True
    field = rule.local_time.field
    moment = fact.occurred_at if field == "occurred_at" else instant(fact.payload.get(field))
    return moment is not None and rule.local_time.contains(fact.local(moment).time())


def metric_value(state: StudentState, ruleset: RuleSet, name: str) -> Number:
    raw = state.metrics.get(name, 0)
    divisor = ruleset.metrics[name].divide_by
    return raw if divisor == 1 else raw / divisor


def best_window(state: StudentState, ruleset: RuleSet, metric: str, days: int) -> Number:
    """The most of a metric gathered within any `days` consecutive local days."""
    daily = sorted((date.fromisoformat(day), raw) for day, raw in state.daily.get(metric, {}).items())
    best, total, first = 0, 0, 0
    for day, raw in daily:
        total += raw
        while (day - daily[first][0]).days >= days:
            total -= daily[first][1]
            first += 1
        best = max(best, total)
    divisor = ruleset.metrics[metric].divide_by
    return best if divisor == 1 else best / divisor


def is_satisfied(rule: Any, code: str, state: StudentState, ruleset: RuleSet) -> bool:
    """Whether the state meets an achievement's rule (`code` names the achievement, for event flags)."""
    if isinstance(rule, AllOfRule):
        return all(is_satisfied(child, code, state, ruleset) for child in rule.rules)
    if isinstance(rule, AnyOfRule):
        return any(is_satisfied(child, code, state, ruleset) for child in rule.rules)
    if isinstance(rule, EventRule):
        return flag_name(code, rule) in state.flags
    if isinstance(rule, StreakRule):
        return state.longest_streak >= rule.days
    if isinstance(rule, GapRule):
        return state.longest_gap >= rule.days
    current, target = _measure(rule, state, ruleset, today=None)
    return current >= target


def _measure(rule: Any, state: StudentState, ruleset: RuleSet, today: date | None) -> tuple[Number, Number]:
    if isinstance(rule, (CounterRule, SumRule)):
        return metric_value(state, ruleset, rule.metric), rule.threshold
    if isinstance(rule, WindowRule):
        return best_window(state, ruleset, rule.metric, rule.days), rule.threshold
    if isinstance(rule, LevelRule):
        return state.level, rule.level
    if isinstance(rule, StreakRule):
        return _streak_now(state, today), rule.days
    raise TypeError(f"no progress for rule kind {rule.kind!r}")


def _streak_now(state: StudentState, today: date | None) -> int:
    if today is not None:
        return state.current_streak(today)
    return state.current_streak(state.learning_days[-1]) if state.learning_days else 0


def progress(rule: Any, state: StudentState, ruleset: RuleSet, today: date | None = None) -> dict[str, Number] | None:
    """{current, target} for threshold kinds (counter, sum, window, level, streak), else None."""
    if not isinstance(rule, (CounterRule, SumRule, WindowRule, LevelRule, StreakRule)):
        return None
    current, target = _measure(rule, state, ruleset, today)
    return {"current": _tidy(current), "target": _tidy(target)}


def _tidy(value: Number) -> Number:
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 2)
    return value


def achievement_progress(state: StudentState, ruleset: RuleSet, *, today: date | None = None) -> list[dict[str, Any]]:
    """Every achievement of the rule set with earned_at (or None) and progress; the API hides hidden unearned ones."""
    return [
        {
            "code": code,
            "title": achievement.title.ru,
            "titles": achievement.title.model_dump(),
            "tier": achievement.tier,
            "hidden": achievement.hidden,
            "earned_at": state.earned.get(code),
            "progress": progress(achievement.rule, state, ruleset, today),
        }
        for code, achievement in ruleset.achievements.items()
    ]


def closest_achievements(
    state: StudentState, ruleset: RuleSet, n: int = 3, *, today: date | None = None
) -> list[dict[str, Any]]:
    """The `n` visible unearned achievements nearest to completion, with what is missing and why."""
    candidates = []
    for code, achievement in ruleset.achievements.items():
        if code in state.earned or achievement.hidden or not all(need in state.earned for need in achievement.requires):
            continue
        measured = progress(achievement.rule, state, ruleset, today)
        if measured is None or measured["current"] >= measured["target"]:
            continue
        share = measured["current"] / measured["target"]
        candidates.append((-share, ruleset.position[code], _missing(code, achievement, measured, ruleset)))
    candidates.sort(key=lambda item: item[:2])
    return [item[2] for item in candidates[:n]]


def _missing(code: str, achievement: Any, measured: dict[str, Number], ruleset: RuleSet) -> dict[str, Any]:
    rule = achievement.rule
    missing = _tidy(measured["target"] - measured["current"])
    what, unit = _what(rule, ruleset)
    title = achievement.title
    return {
        "code": code,
        "title": title.ru,
        "titles": title.model_dump(),
        "tier": achievement.tier,
        **measured,
        "missing": missing,
        "what": what,
        "unit": unit,
        "reason": {
            "ru": f"До «{title.ru}» осталось: {missing} ({unit['ru']})",
            "en": f"{missing} more {unit['en']} to «{title.en}»",
        },
    }


def _what(rule: Any, ruleset: RuleSet) -> tuple[str, dict[str, str]]:
    if isinstance(rule, StreakRule):
        return "streak_days", STREAK_UNIT
    if isinstance(rule, LevelRule):
        return "level", LEVEL_UNIT
    metric = ruleset.metrics[rule.metric]
    unit = metric.label.model_dump() if metric.label else {"ru": rule.metric, "en": rule.metric}
    if isinstance(rule, WindowRule):
        unit = {"ru": f"{unit['ru']} за {rule.days} дн.", "en": f"{unit['en']} within {rule.days} days"}
    return rule.metric, unit
