"""A validated gamification rule set and the index that tells the engine which rules a fact touches."""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from services.student.levels import LevelCurve
from services.student.payload import Where
from services.student.rulefile import (
    ACHIEVEMENT_SOURCE,
    RULE_KINDS,
    Achievement,
    AllOfRule,
    AnyOfRule,
    CounterRule,
    EventRule,
    LevelRule,
    Metric,
    RuleSetDocument,
    SumRule,
    WindowRule,
    XpRule,
    flag_name,
    leaf_rules,
    rule_inputs,
)

DEFAULT_RULES = Path(__file__).parent / "rules" / "default.yaml"


class RuleSetInvalid(ValueError):
    """The rule file does not validate; `errors` is a list of {loc, msg}, as in a 422 response."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{_dotted(error['loc'])}: {error['msg']}" for error in errors))


def _dotted(loc: list[Any]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".") or "<root>"


class RuleIndex:
    """Which rules a fact type can touch, and which achievements read which part of the state.

    State inputs are named 'metric:<name>', 'level', 'streak', 'gap' and 'flag:<event rule>'.
    """

    def __init__(self, document: RuleSetDocument) -> None:
        self.xp_rules_by_fact: dict[str, list[XpRule]] = {}
        self.metrics_by_fact: dict[str, list[str]] = {}
        self.scopes_by_fact: dict[str, dict[str, tuple[str, Where]]] = {}
        self.event_checks_by_fact: dict[str, list[tuple[str, EventRule]]] = {}
        self.readers: dict[str, list[str]] = {}
        self.dependents: dict[str, list[str]] = {}
        self.windowed_metrics: set[str] = set()
        for rule in document.xp_rules:
            self.xp_rules_by_fact.setdefault(rule.fact, []).append(rule)
            if rule.scope:
                self.scopes_by_fact.setdefault(rule.fact, {})[rule.scope] = (rule.once_per, rule.where)
        for name, metric in document.metrics.items():
            self.metrics_by_fact.setdefault(metric.fact, []).append(name)
            if metric.scope:
                self.scopes_by_fact.setdefault(metric.fact, {})[metric.scope] = (metric.unique_by, metric.where)
        for achievement in document.achievements:
            self._add_achievement(achievement)

    def _add_achievement(self, achievement: Achievement) -> None:
        for required in achievement.requires:
            self.dependents.setdefault(required, []).append(achievement.code)
        for source in sorted(rule_inputs(achievement.code, achievement.rule)):
            self.readers.setdefault(source, []).append(achievement.code)
        for leaf in leaf_rules(achievement.rule):
            if isinstance(leaf, EventRule):
                checks = self.event_checks_by_fact.setdefault(leaf.fact, [])
                checks.append((flag_name(achievement.code, leaf), leaf))
            if isinstance(leaf, WindowRule):
                self.windowed_metrics.add(leaf.metric)

    def readers_of(self, inputs: Iterable[str]) -> set[str]:
        """The achievements that read any of these state inputs."""
        return {code for source in inputs for code in self.readers.get(source, ())}


class RuleSet:
    """A validated rule set with its index. Build it with `parse_ruleset` or `load_default_ruleset`."""

    def __init__(self, document: RuleSetDocument) -> None:
        self.document = document
        self.version = document.version
        self.metrics: dict[str, Metric] = document.metrics
        self.daily_caps: dict[str, int] = document.daily_caps
        self.achievements: dict[str, Achievement] = {item.code: item for item in document.achievements}
        self.position = {code: place for place, code in enumerate(self.achievements)}
        self.index = RuleIndex(document)

    def curve(self) -> LevelCurve:
        return LevelCurve(**self.document.level_curve.model_dump())

    def to_dict(self) -> dict[str, Any]:
        """The rule file's content; `parse_ruleset(ruleset.to_dict())` gives an equal rule set."""
        return self.document.model_dump(mode="json", exclude_none=True)

    def __repr__(self) -> str:
        return f"RuleSet(version={self.version}, achievements={len(self.achievements)})"


def parse_ruleset(data: dict[str, Any]) -> RuleSet:
    """Validate a rule file's content; raises RuleSetInvalid listing every error found."""
    if not isinstance(data, dict):
        raise RuleSetInvalid([{"loc": [], "msg": "a rule set is a mapping (version, metrics, xp_rules, ...)"}])
    try:
        document = RuleSetDocument.model_validate(data)
    except ValidationError as error:
        raise RuleSetInvalid(_pydantic_errors(error, data)) from None
    errors = _semantic_errors(document)
    if errors:
        raise RuleSetInvalid(errors)
    return RuleSet(document)


def load_ruleset_yaml(text: str) -> RuleSet:
    """Parse and validate a rule file written in YAML (a key written twice is an error)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        raise RuleSetInvalid([{"loc": [], "msg": f"not valid YAML: {error}"}]) from None
    return parse_ruleset(data)


@lru_cache(maxsize=1)
def load_default_ruleset() -> RuleSet:
    """The rule set shipped with the service (rules/default.yaml)."""
    return load_ruleset_yaml(DEFAULT_RULES.read_text(encoding="utf-8"))


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


# --- error messages ---------------------------------------------------------------------
def _pydantic_errors(error: ValidationError, data: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    for item in error.errors(include_url=False):
        loc = _without_kind_tags(list(item["loc"]))
        errors.append({"loc": loc, "msg": _owner(loc, data) + _message(item, loc)})
    return errors


def _without_kind_tags(loc: list[Any]) -> list[Any]:
    """Pydantic puts the discriminator's value in the location of a rule's fields; drop it."""
    kept: list[Any] = []
    for place, part in enumerate(loc):
        before = loc[max(place - 2, 0):place]
        at_a_rule = before[-1:] == ["rule"] or (len(before) == 2 and before[0] == "rules" and isinstance(before[1], int))
        if not (part in RULE_KINDS and at_a_rule):
            kept.append(part)
    return kept


def _message(item: dict[str, Any], loc: list[Any]) -> str:
    expected = ", ".join(RULE_KINDS)
    if item["type"] == "union_tag_invalid":
        return f"unknown rule kind {item['ctx']['tag']!r} (expected one of: {expected})"
    if item["type"] == "union_tag_not_found":
        return f"a rule needs a 'kind' (one of: {expected})"
    if item["type"] == "extra_forbidden":
        return f"unknown key {loc[-1]!r}"
    return item["msg"]


def _owner(loc: list[Any], data: dict[str, Any]) -> str:
    """'achievement 'x': ' when the error is inside a listed item that has a code."""
    if len(loc) >= 2 and loc[0] in ("achievements", "xp_rules") and isinstance(loc[1], int):
        items = data.get(loc[0])
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            return f"{'achievement' if loc[0] == 'achievements' else 'XP rule'} {item['code']!r}: "
    return ""


def _payload_fields(fact: str) -> set[str] | None:
    """The fields the event catalog defines for a fact type; None for a type it does not know."""
    from shared.events import PAYLOADS

    model = PAYLOADS.get(fact)
    return None if model is None else set(model.model_fields)


def _fact_errors(loc: list[Any], fact: str, fields: Iterable[str | None]) -> list[dict[str, Any]]:
    known = _payload_fields(fact)
    if known is None:
        return [{"loc": loc + ["fact"], "msg": f"unknown fact type {fact!r} (not in the event catalog)"}]
    unknown = sorted({field for field in fields if field} - known - {"occurred_at"})
    return [{"loc": loc, "msg": f"{fact} has no field {field!r}"} for field in unknown]


def _semantic_errors(document: RuleSetDocument) -> list[dict[str, Any]]:
    errors = _curve_errors(document)
    for name, metric in document.metrics.items():
        fields = [*metric.where.fields(), metric.unique_by, metric.sum]
        errors += _fact_errors(["metrics", name], metric.fact, fields)
    errors += _xp_rule_errors(document)
    errors += _achievement_errors(document)
    return errors


def _curve_errors(document: RuleSetDocument) -> list[dict[str, Any]]:
    try:
        LevelCurve(**document.level_curve.model_dump())
    except ValueError as error:
        return [{"loc": ["level_curve"], "msg": str(error)}]
    return []


def _xp_rule_errors(document: RuleSetDocument) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for place, rule in enumerate(document.xp_rules):
        loc: list[Any] = ["xp_rules", place]
        if rule.code in seen:
            errors.append({"loc": loc + ["code"], "msg": f"duplicate XP rule code {rule.code!r}"})
        seen.add(rule.code)
        if rule.source == ACHIEVEMENT_SOURCE:
            errors.append({"loc": loc + ["source"], "msg": "source 'achievement' is reserved for achievement rewards"})
        fields = [*rule.where.fields(), rule.once_per, *rule.amount.fields()]
        errors += [{**error, "msg": f"XP rule {rule.code!r}: {error['msg']}"} for error in _fact_errors(loc, rule.fact, fields)]
    sources = {rule.source for rule in document.xp_rules}
    for source in document.daily_caps:
        if source not in sources:
            errors.append({"loc": ["daily_caps", source], "msg": f"no XP rule has source {source!r} to cap"})
    return errors


def _achievement_errors(document: RuleSetDocument) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    codes = [achievement.code for achievement in document.achievements]
    for place, achievement in enumerate(document.achievements):
        loc: list[Any] = ["achievements", place]
        owner = f"achievement {achievement.code!r}: "
        if achievement.code in codes[:place]:
            errors.append({"loc": loc + ["code"], "msg": f"duplicate achievement code {achievement.code!r}"})
        for required in achievement.requires:
            if required == achievement.code:
                errors.append({"loc": loc + ["requires"], "msg": owner + "requires itself"})
            elif required not in codes:
                errors.append({"loc": loc + ["requires"], "msg": owner + f"requires unknown achievement {required!r}"})
        for error in _rule_errors(achievement.rule, loc + ["rule"], document):
            errors.append({**error, "msg": owner + error["msg"]})
    return errors + _cycle_errors(document)


def _rule_errors(rule: Any, loc: list[Any], document: RuleSetDocument) -> list[dict[str, Any]]:
    if isinstance(rule, (AllOfRule, AnyOfRule)):
        return [error for place, child in enumerate(rule.rules) for error in _rule_errors(child, loc + ["rules", place], document)]
    if isinstance(rule, (CounterRule, SumRule, WindowRule)):
        return _metric_use_errors(rule, loc, document.metrics)
    if isinstance(rule, LevelRule) and rule.level > document.level_curve.max_level:
        return [{"loc": loc + ["level"], "msg": f"level {rule.level} is above max_level {document.level_curve.max_level}"}]
    if isinstance(rule, EventRule):
        fields = [*rule.where.fields(), rule.local_time.field if rule.local_time else None]
        return _fact_errors(loc, rule.fact, fields)
    return []


def _metric_use_errors(rule: Any, loc: list[Any], metrics: dict[str, Metric]) -> list[dict[str, Any]]:
    metric = metrics.get(rule.metric)
    if metric is None:
        defined = ", ".join(metrics) or "none"
        return [{"loc": loc + ["metric"], "msg": f"unknown metric {rule.metric!r} (defined: {defined})"}]
    if isinstance(rule, CounterRule) and metric.aggregate != "count":
        return [{"loc": loc + ["metric"], "msg": f"kind 'counter' needs a count metric; {rule.metric!r} is a sum (use kind 'sum')"}]
    if isinstance(rule, SumRule) and metric.aggregate != "sum":
        return [{"loc": loc + ["metric"], "msg": f"kind 'sum' needs a sum metric; {rule.metric!r} counts facts (use kind 'counter')"}]
    return []


def _cycle_errors(document: RuleSetDocument) -> list[dict[str, Any]]:
    requires = {achievement.code: achievement.requires for achievement in document.achievements}
    place = {achievement.code: index for index, achievement in enumerate(document.achievements)}
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(code: str, path: list[str]) -> None:
        state[code] = "open"
        for required in requires.get(code, ()):
            if required not in requires or required == code:
                continue
            if state.get(required) == "open":
                cycles.append(path[path.index(required):] + [required])
            elif required not in state:
                visit(required, path + [required])
        state[code] = "done"

    for code in requires:
        if code not in state:
            visit(code, [code])
    return [
        {"loc": ["achievements", place[cycle[0]], "requires"], "msg": "requires forms a cycle: " + " → ".join(cycle)}
        for cycle in cycles
    ]
