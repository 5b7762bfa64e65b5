"""Checking an admin's rule set before it is stored: the engine's validation, plus what this
service adds (rules read only the events it receives; XP figures stay countable)."""
from __future__ import annotations

from typing import Any

from services.student.ruleset import RuleSet, RuleSetInvalid, parse_ruleset

MAX_XP = 1_000_000  # any one XP figure of a rule set (the ledger holds 64-bit totals)
# The events this service receives and stores as facts; a rule can only read these.
FACT_TYPES = ("lesson.completed", "lesson.cancelled", "homework.submitted", "homework.graded",
              "material.studied", "payment.completed", "dictionary.card_reviewed")


def validate_rules(data: Any, version: int) -> RuleSet:
    """A rule set from an admin's document, numbered `version`; RuleSetInvalid lists every error,
    the engine's and this service's own (a rule may only read the events the service receives)."""
    if isinstance(data, dict):
        data = {**data, "version": version}
    own = [{"loc": loc + ["fact"], "msg": f"the student service does not receive {fact!r} events "
                                          f"(it receives: {', '.join(FACT_TYPES)})"}
           for loc, fact in _facts_read(data) if fact not in FACT_TYPES]
    own += [{"loc": loc, "msg": f"at most {MAX_XP:,} XP at once"} for loc in _too_much_xp(data)]
    try:
        ruleset = parse_ruleset(data)
    except RuleSetInvalid as invalid:
        raise RuleSetInvalid(invalid.errors + own) from None
    if own:
        raise RuleSetInvalid(own)
    return ruleset


def _too_much_xp(data: Any) -> list[list[Any]]:
    """Where a rule document names an XP figure above MAX_XP (a reward, an amount's terms)."""
    if not isinstance(data, dict):
        return []
    found = [["achievements", place, "xp_reward"] for place, item in enumerate(_items(data, "achievements"))
             if isinstance(item, dict) and _big(item.get("xp_reward"))]
    for place, rule in enumerate(_items(data, "xp_rules")):
        amount = rule.get("amount") if isinstance(rule, dict) else None
        found += [["xp_rules", place, "amount", *loc] for loc, value in _numbers(amount, [])
                  if loc[-1] != "by" and _big(value)]  # floor_div.by divides
    return found


def _items(data: dict[str, Any], key: str) -> list[Any]:
    return data[key] if isinstance(data.get(key), list) else []


def _numbers(node: Any, loc: list[Any]) -> list[tuple[list[Any], Any]]:
    if isinstance(node, dict):
        return [found for key, child in node.items() for found in _numbers(child, loc + [key])]
    return [(loc, node)] if loc else []


def _big(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_XP


def _facts_read(data: Any) -> list[tuple[list[Any], Any]]:
    """(location, fact type) of every fact a rule document reads, however malformed the rest."""
    if not isinstance(data, dict):
        return []
    found: list[tuple[list[Any], Any]] = []
    metrics = data.get("metrics")
    if isinstance(metrics, dict):
        found += [(["metrics", name], m["fact"]) for name, m in metrics.items() if isinstance(m, dict) and "fact" in m]
    for key in ("xp_rules", "achievements"):
        for place, item in enumerate(_items(data, key)):
            if not isinstance(item, dict):
                continue
            if key == "xp_rules" and "fact" in item:
                found.append(([key, place], item["fact"]))
            if key == "achievements":
                found += _event_facts(item.get("rule"), [key, place, "rule"])
    return found


def _event_facts(rule: Any, loc: list[Any]) -> list[tuple[list[Any], Any]]:
    if not isinstance(rule, dict):
        return []
    if rule.get("kind") == "event" and "fact" in rule:
        return [(loc, rule["fact"])]
    children = rule.get("rules") if isinstance(rule.get("rules"), list) else []
    return [found for place, child in enumerate(children) for found in _event_facts(child, loc + ["rules", place])]


def observations_changed(old: RuleSet, new: RuleSet) -> bool:
    """Whether `new` counts, remembers or flags anything differently from `old`: then a
    student's observations must be recounted from the stored facts before judging them."""
    def flags(ruleset: RuleSet) -> set[str]:
        return {flag for checks in ruleset.index.event_checks_by_fact.values() for flag, _ in checks}
    return (old.document.metrics != new.document.metrics
            or old.index.scopes_by_fact != new.index.scopes_by_fact
            or old.index.windowed_metrics != new.index.windowed_metrics
            or flags(old) != flags(new))
