"""The rule file's format: pydantic models of metrics, XP rules, achievements and their rule kinds."""
from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, WithJsonSchema

from services.student.payload import AmountFormula, LocalTimeRange, Where

ACHIEVEMENT_SOURCE = "achievement"

Tier = Literal["common", "rare", "epic", "legendary"]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
WhereField = Annotated[
    Where,
    PlainValidator(Where.parse),
    PlainSerializer(lambda where: where.to_dict(), return_type=dict),
    WithJsonSchema({"type": "object"}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Titles(_Strict):
    ru: str = Field(min_length=1)
    en: str = Field(min_length=1)


class LevelCurveConfig(_Strict):
    kind: Literal["power", "geometric"] = "power"
    threshold: int = Field(1000, gt=0)
    multiplier: float = Field(1.5, gt=0)
    max_level: int = Field(100, ge=2, le=10_000)


class Metric(_Strict):
    """A counter (facts counted) or a sum (a payload field added up) over the facts of one type."""

    label: Titles | None = None
    fact: str
    where: WhereField = Where()
    unique_by: str | None = None
    sum: str | None = None
    divide_by: int = Field(1, gt=0)

    @property
    def aggregate(self) -> Literal["count", "sum"]:
        return "count" if self.sum is None else "sum"

    @cached_property
    def scope(self) -> str | None:
        return scope_name(self.fact, self.unique_by, self.where) if self.unique_by else None


class XpRule(_Strict):
    """XP for one fact type; `once_per` makes it award once per value of that payload field."""

    code: Code
    source: Code
    fact: str
    where: WhereField = Where()
    once_per: str | None = None
    learning_activity: bool = True
    amount: AmountFormula

    @cached_property
    def scope(self) -> str | None:
        return scope_name(self.fact, self.once_per, self.where) if self.once_per else None


def scope_name(fact: str, field: str | None, where: Where) -> str:
    """Rules seeing the same facts and keyed by the same field share one set of seen keys."""
    conditions = where.canonical()
    return f"{fact}:{field}" + ("" if conditions == "{}" else f":{conditions}")


class CounterRule(_Strict):
    kind: Literal["counter"]
    metric: str
    threshold: int = Field(gt=0)


class SumRule(_Strict):
    kind: Literal["sum"]
    metric: str
    threshold: int | float = Field(gt=0)


class StreakRule(_Strict):
    kind: Literal["streak"]
    days: int = Field(gt=0)


class WindowRule(_Strict):
    """At least `threshold` of a metric within some `days` consecutive local days."""

    kind: Literal["window"]
    metric: str
    days: int = Field(gt=0, le=3660)
    threshold: int | float = Field(gt=0)


class LevelRule(_Strict):
    kind: Literal["level"]
    level: int = Field(ge=2)


class EventRule(_Strict):
    """One fact of this type matching `where` (and, if given, a local time-of-day range)."""

    kind: Literal["event"]
    fact: str
    where: WhereField = Where()
    local_time: LocalTimeRange | None = None

    @cached_property
    def signature(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(text.encode()).hexdigest()[:10]


class GapRule(_Strict):
    """A learning day after at least `days` days without one."""

    kind: Literal["gap"]
    days: int = Field(gt=0)


class AllOfRule(_Strict):
    kind: Literal["all_of"]
    rules: list[Rule] = Field(min_length=1)


class AnyOfRule(_Strict):
    kind: Literal["any_of"]
    rules: list[Rule] = Field(min_length=1)


Rule = Annotated[
    CounterRule | SumRule | StreakRule | WindowRule | LevelRule | EventRule | GapRule | AllOfRule | AnyOfRule,
    Field(discriminator="kind"),
]
RULE_KINDS = ("counter", "sum", "streak", "window", "level", "event", "gap", "all_of", "any_of")
AllOfRule.model_rebuild()
AnyOfRule.model_rebuild()


class Achievement(_Strict):
    code: Code
    title: Titles
    tier: Tier
    hidden: bool = False
    xp_reward: int = Field(0, ge=0)
    requires: list[Code] = []
    rule: Rule


class RuleSetDocument(_Strict):
    version: int = Field(ge=1)
    level_curve: LevelCurveConfig = LevelCurveConfig()
    metrics: dict[Code, Metric] = {}
    xp_rules: list[XpRule] = []
    daily_caps: dict[str, Annotated[int, Field(ge=0)]] = {}
    achievements: list[Achievement] = []


def flag_name(code: str, rule: EventRule) -> str:
    """The state flag recording that some fact matched this event rule of this achievement."""
    return f"{code}:{rule.signature}"


def leaf_rules(rule: Any) -> list[Any]:
    if isinstance(rule, (AllOfRule, AnyOfRule)):
        return [leaf for child in rule.rules for leaf in leaf_rules(child)]
    return [rule]


def rule_inputs(code: str, rule: Any) -> set[str]:
    """The parts of the state a rule reads: 'metric:<name>', 'level', 'streak', 'gap', 'flag:<name>'."""
    inputs: set[str] = set()
    for leaf in leaf_rules(rule):
        if isinstance(leaf, (CounterRule, SumRule, WindowRule)):
            inputs.add(f"metric:{leaf.metric}")
        elif isinstance(leaf, LevelRule):
            inputs.add("level")
        elif isinstance(leaf, StreakRule):
            inputs.add("streak")
        elif isinstance(leaf, GapRule):
            inputs.add("gap")
        elif isinstance(leaf, EventRule):
            inputs.add(f"flag:{flag_name(code, leaf)}")
    return inputs
