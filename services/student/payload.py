"""How rules read an event payload: field conditions, local-time ranges, XP amount formulas."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from fractions import Fraction
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PayloadDict = Mapping[str, Any]


def number(value: Any) -> Fraction | None:
    """A payload value as an exact number, or None when it is not one (bools are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value)
        except (ValueError, ZeroDivisionError):
            return None
    return None


def round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def instant(value: Any) -> datetime | None:
    """A payload timestamp (ISO string or datetime) as an aware UTC datetime; naive means UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def comparable(value: Any) -> Any:
    return str(value) if isinstance(value, UUID) else value


# --- field conditions ("where") ---------------------------------------------------------
def _compare(check: Callable[[Fraction, Fraction], bool]) -> Callable[[Any, Any, PayloadDict], bool]:
    def test(value: Any, operand: Any, payload: PayloadDict) -> bool:
        left, right = number(value), number(operand)
        return left is not None and right is not None and check(left, right)
    return test


OPERATORS: dict[str, Callable[[Any, Any, PayloadDict], bool]] = {
    "eq": lambda value, operand, payload: comparable(value) == operand,
    "ne": lambda value, operand, payload: comparable(value) != operand,
    "in": lambda value, operand, payload: comparable(value) in operand,
    "not_in": lambda value, operand, payload: comparable(value) not in operand,
    "gt": _compare(lambda a, b: a > b),
    "gte": _compare(lambda a, b: a >= b),
    "lt": _compare(lambda a, b: a < b),
    "lte": _compare(lambda a, b: a <= b),
    "eq_field": lambda value, operand, payload: value is not None and comparable(value) == comparable(payload.get(operand)),
    "exists": lambda value, operand, payload: (value is not None) == bool(operand),
}
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class FieldTest:
    field: str
    operator: str
    operand: Any

    def holds(self, payload: PayloadDict) -> bool:
        return OPERATORS[self.operator](payload.get(self.field), self.operand, payload)


@dataclass(frozen=True)
class Where:
    """All field tests must hold. Written as {field: value} or {field: {operator: operand}}."""

    tests: tuple[FieldTest, ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> Where:
        if isinstance(raw, Where):
            return raw
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError("a condition is a mapping of payload field to value or {operator: operand}")
        return cls(tuple(test for field, spec in raw.items() for test in _field_tests(str(field), spec)))

    def matches(self, payload: PayloadDict) -> bool:
        return all(test.holds(payload) for test in self.tests)

    def fields(self) -> set[str]:
        named = {test.field for test in self.tests}
        return named | {test.operand for test in self.tests if test.operator == "eq_field"}

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for test in self.tests:
            raw.setdefault(test.field, {})[test.operator] = test.operand
        return {
            field: ops["eq"] if list(ops) == ["eq"] and isinstance(ops["eq"], _SCALARS) else ops
            for field, ops in raw.items()
        }

    def canonical(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field_tests(field: str, spec: Any) -> list[FieldTest]:
    if isinstance(spec, _SCALARS):
        return [FieldTest(field, "eq", spec)]
    if not isinstance(spec, Mapping) or not spec:
        raise ValueError(f"condition on {field!r} must be a value or a non-empty {{operator: operand}} mapping")
    tests = []
    for operator, operand in spec.items():
        if operator not in OPERATORS:
            raise ValueError(
                f"unknown operator {operator!r} for field {field!r} (expected one of: {', '.join(OPERATORS)})"
            )
        if operator in ("in", "not_in") and not isinstance(operand, (list, tuple)):
            raise ValueError(f"operator {operator!r} on {field!r} needs a list")
        if operator == "eq_field" and not isinstance(operand, str):
            raise ValueError(f"operator 'eq_field' on {field!r} needs a field name")
        if operator in ("gt", "gte", "lt", "lte") and number(operand) is None:
            raise ValueError(f"operator {operator!r} on {field!r} needs a number")
        tests.append(FieldTest(field, operator, list(operand) if isinstance(operand, tuple) else operand))
    return tests


# --- local time of day ------------------------------------------------------------------
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class LocalTimeRange(BaseModel):
    """A time-of-day range in the student's zone, both ends inclusive to the minute; may wrap midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = "occurred_at"
    start: str
    end: str

    @field_validator("start", "end", mode="before")
    @classmethod
    def _is_clock(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f'time of day must be a quoted "HH:MM" string, got {value!r}')
        if not _CLOCK.match(value):
            raise ValueError(f"time of day must be HH:MM (00:00-23:59), got {value!r}")
        return value

    def contains(self, local: time) -> bool:
        minute = local.hour * 60 + local.minute
        start, end = _minutes(self.start), _minutes(self.end)
        if start <= end:
            return start <= minute <= end
        return minute >= start or minute <= end


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


# --- XP amount formulas -----------------------------------------------------------------
class _Term(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lookup(_Term):
    """XP by the value of a field, e.g. by lesson_type."""

    field: str
    values: dict[str, int]
    default: int = 0


class FieldValue(_Term):
    """A numeric field's value clamped to [min, max] (a missing value counts as min)."""

    field: str
    min: int = 0
    max: int | None = None


class Ratio(_Term):
    """round_half_up(times * field / of); 0 when `of` is missing or not positive."""

    field: str
    of: str
    times: int = Field(gt=0)


class FloorDiv(_Term):
    """field // by (e.g. kopecks // 1000 = roubles // 10)."""

    field: str
    by: int = Field(gt=0)


class AmountFormula(_Term):
    """The XP of one fact: the sum of the terms present, never below 0, at most `max`."""

    fixed: int = 0
    lookup: Lookup | None = None
    add_field: FieldValue | None = None
    ratio: Ratio | None = None
    floor_div: FloorDiv | None = None
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _has_a_term(self) -> AmountFormula:
        if not (self.fixed or self.lookup or self.add_field or self.ratio or self.floor_div):
            raise ValueError("an amount needs at least one of: fixed, lookup, add_field, ratio, floor_div")
        return self

    def fields(self) -> set[str]:
        named: set[str] = set()
        for term in (self.lookup, self.add_field, self.ratio, self.floor_div):
            if term is not None:
                named.add(term.field)
        if self.ratio is not None:
            named.add(self.ratio.of)
        return named

    def evaluate(self, payload: PayloadDict) -> int:
        total = Fraction(self.fixed)
        if self.lookup is not None:
            total += self.lookup.values.get(str(payload.get(self.lookup.field)), self.lookup.default)
        if self.add_field is not None:
            value = number(payload.get(self.add_field.field))
            value = max(Fraction(self.add_field.min), value if value is not None else Fraction(self.add_field.min))
            total += value if self.add_field.max is None else min(value, Fraction(self.add_field.max))
        if self.ratio is not None:
            part, whole = number(payload.get(self.ratio.field)), number(payload.get(self.ratio.of))
            if part is not None and whole is not None and whole > 0:
                total += round_half_up(self.ratio.times * part / whole)
        if self.floor_div is not None:
            value = number(payload.get(self.floor_div.field))
            if value is not None:
                total += math.floor(value / self.floor_div.by)
        amount = max(0, math.floor(total))
        return amount if self.max is None else min(amount, self.max)
