import copy
import json

import pytest

from services.student.ruleset import RuleSetInvalid, load_default_ruleset, load_ruleset_yaml, parse_ruleset

SPEC_ACHIEVEMENTS = {
    "first_step": ("Первый шаг", "common"),
    "student": ("Ученик", "common"),
    "diligent": ("Исполнительный", "common"),
    "curious": ("Любознательный", "common"),
    "first_words": ("Первые слова", "common"),
    "week_streak": ("Неделя без пропусков", "common"),
    "expert": ("Знаток", "rare"),
    "perfectionist": ("Перфекционист", "rare"),
    "active_learner": ("Активный ученик", "rare"),
    "bookworm": ("Книжный червь", "rare"),
    "punctual": ("Пунктуальный", "rare"),
    "vocabulary": ("Словарный запас", "rare"),
    "master": ("Мастер", "epic"),
    "iron_discipline": ("Железная дисциплина", "epic"),
    "advanced": ("Продвинутый", "epic"),
    "marathon": ("Марафонец", "epic"),
    "legend": ("Легенда", "legendary"),
    "unstoppable": ("Неудержимый", "legendary"),
    "night_owl": ("Сова", "common"),
    "comeback": ("Возвращение", "rare"),
}


def default_data() -> dict:
    return copy.deepcopy(load_default_ruleset().to_dict())


def errors_of(data: dict) -> list[dict]:
    with pytest.raises(RuleSetInvalid) as raised:
        parse_ruleset(data)
    json.dumps(raised.value.errors)  # ready for a 422 body
    return raised.value.errors


def messages(data: dict) -> str:
    return " | ".join(error["msg"] for error in errors_of(data))


def achievement(data: dict, code: str) -> dict:
    return next(item for item in data["achievements"] if item["code"] == code)


def test_default_rule_set_has_the_twenty_achievements_of_the_spec():
    ruleset = load_default_ruleset()
    assert ruleset.version == 1
    assert {code: (item.title.ru, item.tier) for code, item in ruleset.achievements.items()} == SPEC_ACHIEVEMENTS
    assert all(item.title.en for item in ruleset.achievements.values())
    assert {code for code, item in ruleset.achievements.items() if item.hidden} == {"night_owl", "comeback"}


def test_default_rewards_follow_the_tier():
    rewards = {"common": 50, "rare": 150, "epic": 500, "legendary": 1500}
    for item in load_default_ruleset().achievements.values():
        assert item.xp_reward == rewards[item.tier]


def test_default_prerequisites_form_the_spec_chains():
    requires = {code: item.requires for code, item in load_default_ruleset().achievements.items() if item.requires}
    assert requires == {
        "student": ["first_step"],
        "expert": ["student"],
        "master": ["expert"],
        "bookworm": ["curious"],
        "iron_discipline": ["week_streak"],
        "legend": ["advanced"],
        "unstoppable": ["iron_discipline"],
    }


def test_default_curve_and_caps_are_data():
    data = default_data()
    assert data["level_curve"] == {"kind": "power", "threshold": 1000, "multiplier": 1.5, "max_level": 100}
    assert data["daily_caps"] == {"dictionary": 100}


def test_to_dict_parses_back_to_the_same_rule_set():
    data = default_data()
    assert parse_ruleset(data).to_dict() == data


def test_unknown_rule_kind_names_the_kind_and_the_choices():
    data = default_data()
    achievement(data, "student")["rule"] = {"kind": "counterr", "metric": "lessons_completed", "threshold": 10}
    [error] = errors_of(data)
    assert error["loc"] == ["achievements", 1, "rule"]
    assert "achievement 'student'" in error["msg"]
    assert "unknown rule kind 'counterr'" in error["msg"] and "counter, sum, streak" in error["msg"]


def test_unknown_metric_lists_the_defined_ones():
    data = default_data()
    achievement(data, "diligent")["rule"]["metric"] = "homeworks"
    [error] = errors_of(data)
    assert error["loc"] == ["achievements", 2, "rule", "metric"]
    assert "unknown metric 'homeworks'" in error["msg"] and "homework_submitted" in error["msg"]


def test_requires_naming_an_unknown_code_is_an_error():
    data = default_data()
    achievement(data, "student")["requires"] = ["first_stepp"]
    assert "achievement 'student': requires unknown achievement 'first_stepp'" in messages(data)


def test_a_cycle_in_requires_is_reported_with_its_path():
    data = default_data()
    achievement(data, "first_step")["requires"] = ["master"]
    text = messages(data)
    assert "requires forms a cycle" in text
    assert "first_step → master → expert → student → first_step" in text


def test_an_achievement_requiring_itself_is_an_error():
    data = default_data()
    achievement(data, "curious")["requires"] = ["curious"]
    assert "achievement 'curious': requires itself" in messages(data)


def test_duplicate_codes_are_errors():
    data = default_data()
    data["achievements"].append(copy.deepcopy(achievement(data, "curious")))
    data["xp_rules"].append(copy.deepcopy(data["xp_rules"][0]))
    text = messages(data)
    assert "duplicate achievement code 'curious'" in text
    assert "duplicate XP rule code 'lesson_attended'" in text


def test_bad_tier_and_non_positive_threshold_are_errors():
    data = default_data()
    achievement(data, "curious")["tier"] = "mythic"
    achievement(data, "diligent")["rule"]["threshold"] = 0
    errors = errors_of(data)
    assert {tuple(error["loc"]) for error in errors} == {
        ("achievements", 3, "tier"),
        ("achievements", 2, "rule", "threshold"),
    }
    assert any("greater than 0" in error["msg"] for error in errors)
    assert any("'common', 'rare', 'epic' or 'legendary'" in error["msg"] for error in errors)


def test_every_error_is_reported_at_once():
    data = default_data()
    achievement(data, "student")["requires"] = ["nobody"]
    achievement(data, "diligent")["rule"]["metric"] = "nothing"
    assert len(errors_of(data)) == 2


def test_counter_on_a_sum_metric_points_to_the_right_kind():
    data = default_data()
    achievement(data, "active_learner")["rule"]["kind"] = "counter"
    achievement(data, "active_learner")["rule"]["threshold"] = 50
    assert "kind 'counter' needs a count metric; 'lesson_hours' is a sum (use kind 'sum')" in messages(data)


def test_unknown_fact_type_and_payload_field_are_errors():
    data = default_data()
    data["metrics"]["lessons_completed"]["fact"] = "lesson.finished"
    data["metrics"]["materials_studied"]["unique_by"] = "materialid"
    text = messages(data)
    assert "unknown fact type 'lesson.finished'" in text
    assert "material.studied has no field 'materialid'" in text


def test_unknown_operator_in_a_condition_is_an_error():
    data = default_data()
    data["metrics"]["homework_full_score"]["where"] = {"score": {"equals": 10}}
    assert "unknown operator 'equals' for field 'score'" in messages(data)


def test_level_rule_above_the_max_level_is_an_error():
    data = default_data()
    achievement(data, "legend")["rule"]["level"] = 101
    assert "level 101 is above max_level 100" in messages(data)


def test_unknown_key_is_named():
    data = default_data()
    achievement(data, "curious")["rule"]["treshold"] = 1
    assert "unknown key 'treshold'" in messages(data)


def test_a_cap_on_a_source_without_rules_is_an_error():
    data = default_data()
    data["daily_caps"]["homwork"] = 10
    assert "no XP rule has source 'homwork'" in messages(data)


def test_a_key_written_twice_in_yaml_is_an_error():
    text = "version: 1\nversion: 2\n"
    with pytest.raises(RuleSetInvalid, match="duplicate key 'version'"):
        load_ruleset_yaml(text)


def test_an_unquoted_time_of_day_in_yaml_says_to_quote_it():
    text = """
version: 1
achievements:
  - code: owl
    title: {ru: Сова, en: Owl}
    tier: common
    rule: {kind: event, fact: lesson.completed, local_time: {field: starts_at, start: 22:00, end: "04:59"}}
"""
    with pytest.raises(RuleSetInvalid, match='quoted "HH:MM"'):
        load_ruleset_yaml(text)


def test_rule_kinds_combine_with_all_of_and_any_of():
    data = default_data()
    data["achievements"].append(
        {
            "code": "all_rounder",
            "title": {"ru": "Универсал", "en": "All-rounder"},
            "tier": "epic",
            "requires": ["curious"],
            "rule": {
                "kind": "all_of",
                "rules": [
                    {"kind": "counter", "metric": "lessons_completed", "threshold": 5},
                    {"kind": "any_of", "rules": [{"kind": "streak", "days": 3}, {"kind": "gap", "days": 10}]},
                    {"kind": "event", "fact": "homework.graded", "where": {"score": {"gte": 90}}},
                ],
            },
        }
    )
    ruleset = parse_ruleset(data)
    assert "all_rounder" in ruleset.achievements
    assert parse_ruleset(ruleset.to_dict()).to_dict() == ruleset.to_dict()


def test_errors_inside_a_combined_rule_point_into_it():
    data = default_data()
    achievement(data, "curious")["rule"] = {
        "kind": "any_of",
        "rules": [{"kind": "counter", "metric": "materials_studied", "threshold": 1}, {"kind": "level", "level": 1}],
    }
    [error] = errors_of(data)
    assert error["loc"] == ["achievements", 3, "rule", "rules", 1, "level"]
