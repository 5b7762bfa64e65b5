"""The gamification engine: facts in, XP, levels, streaks and achievements out. No I/O, no clock."""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from services.student.achievements import (
    achievement_progress,
    closest_achievements,
    event_matches,
    is_satisfied,
)
from services.student.levels import LevelCurve
from services.student.payload import number
from services.student.rulefile import ACHIEVEMENT_SOURCE, Achievement, Metric
from services.student.ruleset import RuleSet
from services.student.state import Fact, StudentState, compact_key

__all__ = [
    "AchievementAward",
    "Fact",
    "Outcome",
    "StudentState",
    "XpAward",
    "achievement_progress",
    "apply_fact",
    "award_retroactively",
    "closest_achievements",
    "current_streak",
    "dry_run",
    "replay",
]


@dataclass(frozen=True)
class XpAward:
    """One XP ledger entry: how much, from which source and rule, for which event."""

    amount: int
    source: str
    rule: str
    source_event_id: UUID | None
    occurred_at: datetime
    total_xp: int  # the student's total right after this award

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "source": self.source,
            "rule": self.rule,
            "source_event_id": self.source_event_id,
            "occurred_at": self.occurred_at,
            "total_xp": self.total_xp,
        }


@dataclass(frozen=True)
class AchievementAward:
    code: str
    title: str
    tier: str
    earned_at: datetime
    titles: dict[str, str]
    xp_reward: int = 0

    @classmethod
    def of(cls, achievement: Achievement, earned_at: datetime) -> AchievementAward:
        titles = achievement.title.model_dump()
        return cls(achievement.code, titles["ru"], achievement.tier, earned_at, titles, achievement.xp_reward)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "title": self.title, "tier": self.tier, "earned_at": self.earned_at, "titles": self.titles}


@dataclass
class Outcome:
    """What one call changed: XP ledger entries, at most one level change, achievements in award order."""

    xp_awards: list[XpAward] = field(default_factory=list)
    level_change: tuple[int, int] | None = None
    achievements: list[AchievementAward] = field(default_factory=list)
    evaluated: int = 0  # achievement rules evaluated: grows with the rules a fact affects

    @property
    def xp_gained(self) -> int:
        return sum(award.amount for award in self.xp_awards)

    @property
    def is_empty(self) -> bool:
        return not (self.xp_awards or self.level_change or self.achievements)

    def to_dict(self) -> dict[str, Any]:
        return {
            "xp_awards": [award.to_dict() for award in self.xp_awards],
            "level_change": self.level_change,
            "achievements": [award.to_dict() for award in self.achievements],
        }


def current_streak(state: StudentState, today: date) -> int:
    """Consecutive learning days ending `today` (a local date) or yesterday."""
    return state.current_streak(today)


def apply_fact(state: StudentState, fact: Fact, ruleset: RuleSet, curve: LevelCurve) -> Outcome:
    """Apply one fact to the state (in place). Each fact is applied once: the service's inbox
    claims every event before its handler runs (and the facts and the ledger are keyed by the
    event in the database); the state does not remember every event id it has seen, which grew
    with a student's history and was rewritten with every update."""
    state.ruleset_version = ruleset.version
    old_level = state.level
    fresh = _mark_seen(state, fact, ruleset)
    awards, learning = _award_xp(state, fact, ruleset, fresh)
    changed = _observe(state, fact, ruleset, fresh)
    if learning:
        changed |= state.add_learning_day(fact.local_date)
    changed |= _raise_level(state, curve)
    earned, rewards, evaluated = _award_achievements(
        state, ruleset, curve, ruleset.index.readers_of(changed), fact.occurred_at, fact.event_id
    )
    return Outcome(awards + rewards, _level_change(old_level, state.level), earned, evaluated)


def replay(facts: Iterable[Fact], ruleset: RuleSet, curve: LevelCurve) -> tuple[StudentState, list[Outcome]]:
    """Rebuild a state from stored facts in their stored order; equals live processing of them."""
    state = StudentState()
    outcomes = [apply_fact(state, fact, ruleset, curve) for fact in facts]
    return state, outcomes


def award_retroactively(
    state: StudentState,
    ruleset: RuleSet,
    curve: LevelCurve,
    now: datetime,
    facts: Iterable[Fact] | None = None,
) -> Outcome:
    """After a rule change: award every achievement the state now meets (never revokes any).

    Pass the student's stored `facts` when the new set reads something the state did not
    track (a new metric, a new event rule, a new window): observations are then recounted
    from them. XP rules are not retroactive; the total XP changes only by achievement rewards.
    """
    now = now.astimezone(UTC)
    if facts is not None:
        _recount_observations(state, facts, ruleset)
    state.ruleset_version = ruleset.version
    old_level = state.level
    _raise_level(state, curve)
    earned, rewards, evaluated = _award_achievements(state, ruleset, curve, set(ruleset.achievements), now, None)
    return Outcome(rewards, _level_change(old_level, state.level), earned, evaluated)


def dry_run(
    facts_by_student: dict[UUID, list[Fact]],
    states: dict[UUID, StudentState],
    new_ruleset: RuleSet,
    curve: LevelCurve,
    *,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Who would gain which achievements and how much XP under `new_ruleset`; changes nothing.

    A student with a state is evaluated as `award_retroactively` would; one without a state
    is replayed from their facts. Only students who would gain something are listed.
    """
    moment = now or datetime.min.replace(tzinfo=UTC)
    report = []
    for student_id in sorted(set(states) | set(facts_by_student), key=str):
        facts = facts_by_student.get(student_id)
        if student_id in states:
            trial = states[student_id].copy()
            outcomes = [award_retroactively(trial, new_ruleset, curve, moment, facts)]
        else:
            _, outcomes = replay(facts or [], new_ruleset, curve)
        gained = [award.code for outcome in outcomes for award in outcome.achievements]
        xp_gained = sum(outcome.xp_gained for outcome in outcomes)
        if gained or xp_gained:
            report.append({"student_id": student_id, "achievements_gained": gained, "xp_gained": xp_gained})
    return report


# --- one fact -------------------------------------------------------------------------
def _mark_seen(state: StudentState, fact: Fact, ruleset: RuleSet) -> dict[str, bool]:
    """For each uniqueness scope the fact falls in: was its key new? Then remember the key."""
    fresh: dict[str, bool] = {}
    for scope, (key_field, where) in ruleset.index.scopes_by_fact.get(fact.type, {}).items():
        value = fact.payload.get(key_field)
        if value is None or not where.matches(fact.payload):
            continue
        keys = state.seen.setdefault(scope, set())
        key = compact_key(value)
        fresh[scope] = key not in keys
        keys.add(key)
    return fresh


def _award_xp(state: StudentState, fact: Fact, ruleset: RuleSet, fresh: dict[str, bool]) -> tuple[list[XpAward], bool]:
    """XP ledger entries for the fact, and whether it makes its local day a learning day."""
    awards: list[XpAward] = []
    learning = False
    for rule in ruleset.index.xp_rules_by_fact.get(fact.type, ()):
        if not rule.where.matches(fact.payload):
            continue
        amount = rule.amount.evaluate(fact.payload)
        learning = learning or (amount > 0 and rule.learning_activity)
        if rule.scope and not fresh.get(rule.scope):
            continue
        amount = _within_daily_cap(state, ruleset, rule.source, fact.local_date.isoformat(), amount)
        if amount > 0:
            state.total_xp += amount
            awards.append(XpAward(amount, rule.source, rule.code, fact.event_id, fact.occurred_at, state.total_xp))
    return awards, learning


def _within_daily_cap(state: StudentState, ruleset: RuleSet, source: str, day: str, amount: int) -> int:
    cap = ruleset.daily_caps.get(source)
    if cap is None or amount <= 0:
        return amount
    usage = state.cap_usage.setdefault(source, {})
    granted = max(0, min(amount, cap - usage.get(day, 0)))
    if granted:
        usage[day] = usage.get(day, 0) + granted
    return granted


def _observe(state: StudentState, fact: Fact, ruleset: RuleSet, fresh: dict[str, bool]) -> set[str]:
    """Update the metrics and event flags the fact feeds; returns the state inputs that changed."""
    changed: set[str] = set()
    index = ruleset.index
    for name in index.metrics_by_fact.get(fact.type, ()):
        metric = ruleset.metrics[name]
        step = _metric_step(metric, fact)
        if not step or (metric.scope and not fresh.get(metric.scope)):
            continue
        state.metrics[name] = state.metrics.get(name, 0) + step
        changed.add(f"metric:{name}")
        if name in index.windowed_metrics:
            daily = state.daily.setdefault(name, {})
            day = fact.local_date.isoformat()
            daily[day] = daily.get(day, 0) + step
    for flag, rule in index.event_checks_by_fact.get(fact.type, ()):
        if flag not in state.flags and event_matches(rule, fact):
            state.flags.add(flag)
            changed.add(f"flag:{flag}")
    return changed


def _metric_step(metric: Metric, fact: Fact) -> int | float:
    if not metric.where.matches(fact.payload):
        return 0
    if metric.sum is None:
        return 1
    value = number(fact.payload.get(metric.sum))
    if value is None or value <= 0:
        return 0
    return int(value) if value.denominator == 1 else float(value)


def _recount_observations(state: StudentState, facts: Iterable[Fact], ruleset: RuleSet) -> None:
    """Recount metrics, uniqueness keys, windows and event flags from the full fact history."""
    state.metrics, state.seen, state.daily, state.flags = {}, {}, {}, set()
    done: set[UUID] = set()
    for fact in facts:
        if fact.event_id in done:
            continue
        done.add(fact.event_id)
        _observe(state, fact, ruleset, _mark_seen(state, fact, ruleset))


# --- levels and achievements -------------------------------------------------------------
def _raise_level(state: StudentState, curve: LevelCurve) -> set[str]:
    level = curve.level_for_xp(state.total_xp)
    if level <= state.level:
        return set()
    state.level = level
    return {"level"}


def _level_change(old: int, new: int) -> tuple[int, int] | None:
    return (old, new) if new > old else None


def _award_achievements(
    state: StudentState,
    ruleset: RuleSet,
    curve: LevelCurve,
    candidates: Iterable[str],
    at: datetime,
    event_id: UUID | None,
) -> tuple[list[AchievementAward], list[XpAward], int]:
    """Evaluate candidates in rule-set order until nothing more can be awarded (prerequisites, level-ups)."""
    queue = _Candidates(state, ruleset)
    queue.push(candidates)
    earned: list[AchievementAward] = []
    rewards: list[XpAward] = []
    evaluated = 0
    while queue:
        achievement = queue.pop()
        if not all(required in state.earned for required in achievement.requires):
            continue
        evaluated += 1
        if not is_satisfied(achievement.rule, achievement.code, state, ruleset):
            continue
        earned.append(AchievementAward.of(achievement, at))
        reward, changed = _earn(state, achievement, curve, at, event_id)
        rewards += [reward] if reward else []
        queue.push(ruleset.index.dependents.get(achievement.code, ()))
        queue.push(ruleset.index.readers_of(changed))
    return earned, rewards, evaluated


def _earn(
    state: StudentState, achievement: Achievement, curve: LevelCurve, at: datetime, event_id: UUID | None
) -> tuple[XpAward | None, set[str]]:
    """Record an achievement and its XP reward; returns the reward and the inputs that changed ('level')."""
    state.earned[achievement.code] = at
    if not achievement.xp_reward:
        return None, set()
    state.total_xp += achievement.xp_reward
    rule = f"{ACHIEVEMENT_SOURCE}:{achievement.code}"
    reward = XpAward(achievement.xp_reward, ACHIEVEMENT_SOURCE, rule, event_id, at, state.total_xp)
    return reward, _raise_level(state, curve)


class _Candidates:
    """Unearned achievements waiting for evaluation, popped in rule-set order, each queued once at a time."""

    def __init__(self, state: StudentState, ruleset: RuleSet) -> None:
        self._state, self._ruleset = state, ruleset
        self._heap: list[tuple[int, str]] = []
        self._queued: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self._heap)

    def push(self, codes: Iterable[str]) -> None:
        for code in codes:
            if code not in self._state.earned and code not in self._queued:
                self._queued.add(code)
                heapq.heappush(self._heap, (self._ruleset.position[code], code))

    def pop(self) -> Achievement:
        _, code = heapq.heappop(self._heap)
        self._queued.discard(code)
        return self._ruleset.achievements[code]
