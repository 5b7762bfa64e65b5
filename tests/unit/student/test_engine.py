import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.student.engine import (
    Fact,
    StudentState,
    achievement_progress,
    apply_fact,
    award_retroactively,
    closest_achievements,
    current_streak,
)
from services.student.ruleset import load_default_ruleset, parse_ruleset

RULES = load_default_ruleset()
CURVE = RULES.curve()
MOSCOW, VLADIVOSTOK, NEW_YORK = "Europe/Moscow", "Asia/Vladivostok", "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def fact(kind: str, when: datetime, payload: dict, tz: str = MOSCOW) -> Fact:
    return Fact(uuid.uuid4(), kind, when, tz, payload)


def lesson(when, *, lesson_id=None, attended=True, lesson_type="regular", score=None, starts_at=None, minutes=60, tz=MOSCOW):
    payload = {
        "lesson_id": str(lesson_id or uuid.uuid4()),
        "attended": attended,
        "lesson_type": lesson_type,
        "score": score,
        "starts_at": (starts_at or when - timedelta(minutes=minutes)).isoformat(),
        "duration_minutes": minutes,
    }
    return fact("lesson.completed", when, payload, tz)


def submitted(when, homework_id=None, on_time=True):
    return fact("homework.submitted", when, {"homework_id": str(homework_id or uuid.uuid4()), "on_time": on_time})


def graded(when, score, max_score, homework_id=None):
    payload = {"homework_id": str(homework_id or uuid.uuid4()), "score": score, "max_score": max_score}
    return fact("homework.graded", when, payload)


def studied(when, material_id=None):
    return fact("material.studied", when, {"material_id": str(material_id or uuid.uuid4()), "subject": "math"})


def paid(when, amount):
    return fact("payment.completed", when, {"payment_id": str(uuid.uuid4()), "amount": amount, "currency": "RUB"})


def reviewed(when, card_id=None, learned=False, tz=MOSCOW, rating="good"):
    payload = {"card_id": str(card_id or uuid.uuid4()), "learned": learned, "rating": rating}
    return fact("dictionary.card_reviewed", when, payload, tz)


def run(facts, rules=RULES):
    state = StudentState()
    outcomes = [apply_fact(state, item, rules, CURVE) for item in facts]
    return state, outcomes


def earned(state):
    return list(state.earned)


def rules_with(change) -> object:
    data = copy.deepcopy(RULES.to_dict())
    change(data)
    return parse_ruleset(data)


def achievement(data, code):
    return next(item for item in data["achievements"] if item["code"] == code)


NOON = utc("2026-01-10T09:00:00")


# --- XP sources ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lesson_type", "score", "xp"),
    [("regular", None, 100), ("trial", 40, 140), ("intensive", 90, 240), ("exam_prep", 100, 300), ("exam_prep", 250, 300)],
)
def test_an_attended_lesson_gives_base_by_type_plus_score_capped_at_300(lesson_type, score, xp):
    outcome = apply_fact(StudentState(), lesson(NOON, lesson_type=lesson_type, score=score), RULES, CURVE)
    [award] = [item for item in outcome.xp_awards if item.source == "lesson"]
    assert award.amount == xp


def test_an_xp_award_names_its_rule_source_and_event():
    item = lesson(NOON)
    [award, *_] = apply_fact(StudentState(), item, RULES, CURVE).xp_awards
    assert (award.source, award.rule, award.source_event_id, award.occurred_at) == ("lesson", "lesson_attended", item.event_id, NOON)
    assert award.total_xp == 100


def test_an_unattended_lesson_gives_no_xp_no_learning_day_and_counts_nothing():
    state, [outcome] = run([lesson(NOON, attended=False)])
    assert outcome.is_empty
    assert state.total_xp == 0 and state.learning_days == [] and state.metrics == {}


def test_a_cancelled_lesson_gives_nothing():
    payload = {"lesson_id": str(uuid.uuid4()), "reason": "ill", "starts_at": NOON.isoformat()}
    state, [outcome] = run([fact("lesson.cancelled", NOON, payload)])
    assert outcome.is_empty and state.total_xp == 0


def test_the_same_lesson_completed_twice_under_two_events_pays_once():
    lesson_id = uuid.uuid4()
    state, _ = run([lesson(NOON, lesson_id=lesson_id), lesson(NOON + timedelta(hours=1), lesson_id=lesson_id)])
    assert state.metrics["lessons_completed"] == 1
    assert state.total_xp == 100 + 50  # the lesson and first_step


def test_homework_submission_pays_once_per_homework():
    homework_id = uuid.uuid4()
    state, outcomes = run([submitted(NOON, homework_id), submitted(NOON + timedelta(days=1), homework_id)])
    assert [award.amount for award in outcomes[0].xp_awards] == [50, 50]  # the homework, then «Исполнительный»
    assert outcomes[1].xp_awards == []


@pytest.mark.parametrize(("score", "max_score", "xp"), [(7, 10, 35), (1, 4, 13), (10, 10, 50), (0, 10, 0), (5, 0, 0)])
def test_a_graded_homework_gives_half_up_rounded_share_of_50(score, max_score, xp):
    outcome = apply_fact(StudentState(), graded(NOON, score, max_score), RULES, CURVE)
    assert sum(award.amount for award in outcome.xp_awards if award.source == "homework") == xp


def test_a_material_pays_25_once():
    material_id = uuid.uuid4()
    state, outcomes = run([studied(NOON, material_id), studied(NOON, material_id)])
    assert outcomes[0].xp_awards[0].amount == 25 and outcomes[1].is_empty


@pytest.mark.parametrize(("kopecks", "xp"), [(123_456, 123), (999, 0), (10_000_000, 500)])
def test_a_payment_gives_one_xp_per_ten_roubles_at_most_500(kopecks, xp):
    state, _ = run([paid(NOON, kopecks)])
    assert state.total_xp == xp


def test_a_payment_is_not_a_learning_day():
    state, _ = run([paid(NOON, 500_000)])
    assert state.learning_days == []


def test_card_reviews_give_2_xp_each_up_to_100_a_local_day():
    state, _ = run([reviewed(NOON + timedelta(minutes=i)) for i in range(60)])
    assert state.cap_usage["dictionary"] == {"2026-01-10": 100}
    assert state.total_xp == 100 + 50  # capped reviews, then «Первые слова»
    assert state.metrics["card_reviews"] == 60


def test_caps_count_in_the_students_local_day():
    # 13:00 and 15:00 UTC: one Moscow day (16:00, 18:00), two Vladivostok days (23:00, 01:00).
    instants = [utc("2026-01-10T13:00:00")] * 50 + [utc("2026-01-10T15:00:00")] * 50
    moscow, _ = run([reviewed(moment, tz=MOSCOW) for moment in instants])
    vladivostok, _ = run([reviewed(moment, tz=VLADIVOSTOK) for moment in instants])
    assert moscow.cap_usage["dictionary"] == {"2026-01-10": 100}
    assert vladivostok.cap_usage["dictionary"] == {"2026-01-10": 100, "2026-01-11": 100}
    assert vladivostok.learning_days == [date(2026, 1, 10), date(2026, 1, 11)]
    assert moscow.learning_days == [date(2026, 1, 10)]


def test_the_stored_state_does_not_grow_with_every_fact():
    card = uuid.uuid4()
    same_card = [reviewed(utc("2026-01-10T13:00:00") + timedelta(seconds=n), card) for n in range(300)]
    after_hundred, _ = run(same_card[:100])
    after_all, _ = run(same_card)
    assert after_all.metrics["card_reviews"] == 300
    assert len(json.dumps(after_all.to_dict())) - len(json.dumps(after_hundred.to_dict())) < 10


def test_a_state_stored_with_the_ids_of_its_facts_loads_without_them():
    state, _ = run([lesson(NOON, score=50)])
    old_row = {**state.to_dict(), "applied": ["AAAAAAAAAAAAAAAAAAAAAA"]}
    assert StudentState.from_dict(old_row).to_dict() == state.to_dict()


# --- levels ----------------------------------------------------------------------------
def test_crossing_several_levels_at_once_is_one_level_change():
    rules = rules_with(lambda data: data["xp_rules"][4]["amount"].update(max=100_000))
    state, [outcome] = run([paid(NOON, 30_000_000)], rules)
    assert outcome.level_change == (1, 10)
    assert [award.code for award in outcome.achievements] == ["advanced"]
    assert state.level == 10


def test_achievement_xp_can_raise_the_level_and_award_a_level_achievement():
    rules = rules_with(lambda data: achievement(data, "curious").update(xp_reward=1000))
    state = StudentState(total_xp=26_400, level=9)
    outcome = apply_fact(state, studied(NOON), rules, CURVE)
    assert [award.code for award in outcome.achievements] == ["curious", "advanced"]
    assert [(award.source, award.rule) for award in outcome.xp_awards] == [
        ("material", "material_studied"),
        ("achievement", "achievement:curious"),
        ("achievement", "achievement:advanced"),
    ]
    assert outcome.level_change == (9, 10)
    assert state.total_xp == 26_400 + 25 + 1000 + 500


def test_level_never_decreases_even_under_a_steeper_curve():
    state = StudentState(total_xp=30_000, level=10)
    steep = parse_ruleset({**RULES.to_dict(), "level_curve": {"kind": "geometric", "threshold": 1000, "multiplier": 1.5, "max_level": 100}})
    apply_fact(state, studied(NOON), steep, steep.curve())
    assert state.level == 10


# --- streaks ---------------------------------------------------------------------------
def test_seven_local_days_in_a_row_earn_a_week_streak():
    state, _ = run([studied(NOON + timedelta(days=day)) for day in range(7)])
    assert state.longest_streak == 7 and "week_streak" in state.earned


def test_current_streak_ends_today_or_yesterday():
    state, _ = run([studied(NOON + timedelta(days=day)) for day in range(3)])  # 10..12 January
    assert current_streak(state, date(2026, 1, 12)) == 3
    assert current_streak(state, date(2026, 1, 13)) == 3
    assert current_streak(state, date(2026, 1, 14)) == 0
    assert state.streak_at_risk(date(2026, 1, 13)) == 3


def test_streak_follows_local_days_not_utc_days():
    # 22:00 UTC is already the next day in Vladivostok: four UTC evenings, four local mornings.
    evenings = [utc("2026-01-10T22:00:00") + timedelta(days=day) for day in range(4)]
    state, _ = run([reviewed(moment, tz=VLADIVOSTOK) for moment in evenings])
    assert state.learning_days == [date(2026, 1, 11) + timedelta(days=day) for day in range(4)]


def test_streak_survives_the_dst_change_in_new_york():
    # Every day at 00:30 local from 5 to 11 March 2026; the clocks go forward on 8 March.
    nights = [local(f"2026-03-{day:02d}T00:30:00", NEW_YORK) for day in range(5, 12)]
    assert nights[4] - nights[3] == timedelta(hours=23)
    state, _ = run([reviewed(moment, tz=NEW_YORK) for moment in nights])
    assert state.learning_days == [date(2026, 3, day) for day in range(5, 12)]
    assert state.longest_streak == 7 and "week_streak" in state.earned


def test_a_late_event_lands_on_its_own_day_and_joins_the_streak():
    days = [NOON + timedelta(days=day) for day in (0, 1, 3, 4, 5, 6)]
    state, _ = run([studied(moment) for moment in days])
    assert state.longest_streak == 4
    apply_fact(state, studied(NOON + timedelta(days=2)), RULES, CURVE)
    assert state.longest_streak == 7 and "week_streak" in state.earned


def test_a_days_zone_is_the_one_the_student_had_then():
    state, _ = run([studied(utc("2026-01-10T22:00:00"))])  # Moscow: 11 January, 01:00
    apply_fact(state, fact("material.studied", utc("2026-01-12T01:00:00"), {"material_id": "m2"}, VLADIVOSTOK), RULES, CURVE)
    assert state.learning_days == [date(2026, 1, 11), date(2026, 1, 12)]


# --- achievements by rule kind -----------------------------------------------------------
def test_counter_rules_count_unique_facts():
    card = uuid.uuid4()
    facts = [reviewed(NOON, card, learned=True) for _ in range(3)] + [graded(NOON, 10, 10) for _ in range(10)]
    facts += [submitted(NOON, on_time=True) for _ in range(10)]
    state, _ = run(facts)
    assert state.metrics["words_learned"] == 1
    assert {"perfectionist", "punctual", "diligent"} <= set(state.earned)


def test_vocabulary_needs_a_hundred_distinct_learned_words():
    state, _ = run([reviewed(NOON + timedelta(days=day // 50), learned=True) for day in range(100)])
    assert "vocabulary" in state.earned and "first_words" in state.earned


def test_sum_rule_adds_up_hours_of_attended_lessons():
    facts = [lesson(NOON + timedelta(days=day), minutes=120) for day in range(24)]
    facts += [lesson(NOON, attended=False, minutes=600)]
    state, _ = run(facts)
    assert "active_learner" not in state.earned
    apply_fact(state, lesson(NOON + timedelta(days=30), minutes=120), RULES, CURVE)
    assert "active_learner" in state.earned


def test_window_rule_needs_five_lessons_within_seven_days():
    spread, _ = run([lesson(NOON + timedelta(days=day * 2)) for day in range(5)])  # over 9 days
    packed, _ = run([lesson(NOON + timedelta(days=day)) for day in (6, 0, 3, 5, 1)])  # out of order, 7 days
    assert "marathon" not in spread.earned
    assert "marathon" in packed.earned


def test_level_rule_awards_at_the_level():
    state = StudentState(total_xp=26_950, level=9)
    apply_fact(state, studied(NOON), RULES, CURVE)
    assert "advanced" in state.earned


def test_night_owl_reads_the_lessons_local_start_time():
    late = utc("2026-01-10T19:30:00")  # 22:30 in Moscow, 19:30 in London
    owl, _ = run([lesson(late + timedelta(hours=1), starts_at=late)])
    londoner, _ = run([lesson(late + timedelta(hours=1), starts_at=late, tz="Europe/London")])
    finished_late, _ = run([lesson(utc("2026-01-10T20:00:00"), starts_at=utc("2026-01-10T18:00:00"))])
    assert "night_owl" in owl.earned
    assert "night_owl" not in londoner.earned
    assert "night_owl" not in finished_late.earned  # finished at 23:00 but started at 21:00


def test_night_owl_window_wraps_midnight_and_ends_at_four_fifty_nine():
    at_459, _ = run([lesson(NOON, starts_at=local("2026-01-10T04:59:30", MOSCOW))])
    at_500, _ = run([lesson(NOON, starts_at=local("2026-01-10T05:00:00", MOSCOW))])
    assert "night_owl" in at_459.earned and "night_owl" not in at_500.earned


@pytest.mark.parametrize(("second_day", "comeback"), [("2026-01-31", False), ("2026-02-01", True), ("2026-03-20", True)])
def test_comeback_is_a_learning_day_after_thirty_days_without_one(second_day, comeback):
    state, _ = run([studied(utc("2026-01-01T09:00:00")), studied(utc(f"{second_day}T09:00:00"))])
    assert ("comeback" in state.earned) is comeback


def test_prerequisites_award_in_a_chain_in_one_call():
    def lower(data):
        for code in ("student", "expert", "master"):
            achievement(data, code)["rule"]["threshold"] = 1
    state, [outcome] = run([lesson(NOON)], rules_with(lower))
    assert [award.code for award in outcome.achievements] == ["first_step", "student", "expert", "master"]


def test_an_achievement_waits_for_its_prerequisite_then_follows_it():
    rules = rules_with(lambda data: achievement(data, "curious")["requires"].append("diligent"))
    state, outcomes = run([studied(NOON), submitted(NOON)], rules)
    assert outcomes[0].achievements == []
    assert [award.code for award in outcomes[1].achievements] == ["diligent", "curious"]


def test_all_of_and_any_of_combine_kinds():
    def add(data):
        data["achievements"].append({
            "code": "balanced",
            "title": {"ru": "Гармония", "en": "Balanced"},
            "tier": "rare",
            "rule": {"kind": "all_of", "rules": [
                {"kind": "counter", "metric": "materials_studied", "threshold": 2},
                {"kind": "any_of", "rules": [
                    {"kind": "event", "fact": "homework.graded", "where": {"score": {"gte": 9}}},
                    {"kind": "streak", "days": 30},
                ]},
            ]},
        })
    rules = rules_with(add)
    state, outcomes = run([graded(NOON, 9, 10), studied(NOON), studied(NOON)], rules)
    assert [award.code for award in outcomes[2].achievements] == ["balanced"]
    weak, _ = run([graded(NOON, 8, 10), studied(NOON), studied(NOON)], rules)
    assert "balanced" not in weak.earned


def test_achievements_are_stamped_with_the_event_time():
    state, [outcome] = run([lesson(NOON)])
    assert outcome.achievements[0].earned_at == NOON == state.earned["first_step"]
    assert outcome.achievements[0].title == "Первый шаг" and outcome.achievements[0].tier == "common"


# --- progress and recommendations ---------------------------------------------------------
def test_progress_shows_current_and_target_for_threshold_kinds():
    state, _ = run([lesson(NOON + timedelta(days=day)) for day in range(3)])
    progress = {item["code"]: item for item in achievement_progress(state, RULES)}
    assert progress["student"]["progress"] == {"current": 3, "target": 10}
    assert progress["first_step"]["earned_at"] == NOON
    assert progress["active_learner"]["progress"] == {"current": 3, "target": 50}
    assert progress["night_owl"]["hidden"] and progress["night_owl"]["progress"] is None


def test_closest_achievements_say_what_is_missing():
    state, _ = run([lesson(NOON + timedelta(days=day * 2)) for day in range(8)])
    [closest, *_] = closest_achievements(state, RULES, 3)
    assert closest["code"] == "student"
    assert (closest["missing"], closest["what"]) == (2, "lessons_completed")
    assert closest["reason"]["en"] == "2 more lessons completed to «Student»"
    assert "Ученик" in closest["reason"]["ru"]


def test_closest_achievements_skip_hidden_and_locked_ones():
    state, _ = run([lesson(NOON)])
    codes = [item["code"] for item in closest_achievements(state, RULES, 20)]
    assert "night_owl" not in codes and "comeback" not in codes
    assert "expert" not in codes  # needs «Ученик» first
    assert "student" in codes


# --- the index -----------------------------------------------------------------------------
def test_a_fact_evaluates_only_the_rules_it_can_affect_among_a_thousand():
    def thousand(data):
        for number in range(1, 981):
            data["achievements"].append({
                "code": f"reviews_{number}", "title": {"ru": "Карточки", "en": "Cards"}, "tier": "common",
                "rule": {"kind": "counter", "metric": "card_reviews", "threshold": number * 5},
            })
    rules = rules_with(thousand)
    assert len(rules.achievements) == 1000
    state = StudentState()
    lesson_outcome = apply_fact(state, lesson(NOON), rules, CURVE)
    review_outcome = apply_fact(state, reviewed(NOON), rules, CURVE)
    retro = award_retroactively(state, rules, CURVE, NOON)
    assert lesson_outcome.evaluated <= 5  # first_step, then what reads lessons and what it unlocked
    assert review_outcome.evaluated <= 985  # card rules only
    assert retro.evaluated > 900  # evaluating everything is what the index avoids


def test_the_index_maps_fact_types_to_metrics_and_metrics_to_readers():
    index = RULES.index
    assert index.metrics_by_fact["lesson.completed"] == ["lessons_completed", "lesson_hours"]
    assert index.readers["metric:lessons_completed"] == ["first_step", "student", "expert", "master", "marathon"]
    assert index.readers["level"] == ["advanced", "legend"]
    assert index.dependents["week_streak"] == ["iron_discipline"]


# --- storage ---------------------------------------------------------------------------------
def test_state_round_trips_through_json():
    night = utc("2026-01-09T20:00:00")
    facts = [lesson(NOON, starts_at=night), reviewed(NOON, learned=True), studied(NOON + timedelta(days=40)), graded(NOON, 3, 4)]
    state, _ = run(facts)
    assert state.flags and state.seen and state.daily and state.cap_usage and state.earned
    stored = json.loads(json.dumps(state.to_dict()))
    assert StudentState.from_dict(stored) == state


def test_state_stores_learning_days_as_runs():
    state, _ = run([studied(NOON + timedelta(days=day)) for day in [*range(30), 40]])
    assert state.to_dict()["learning_days"] == [["2026-01-10", 30], ["2026-02-19", 1]]


def test_a_fact_needs_an_aware_time_and_a_real_zone():
    with pytest.raises(ValueError, match="timezone-aware"):
        Fact(uuid.uuid4(), "lesson.completed", datetime(2026, 1, 1), MOSCOW, {})
    with pytest.raises(ValueError, match="unknown time zone"):
        Fact(uuid.uuid4(), "lesson.completed", NOON, "Mars/Olympus", {})


def test_a_fact_round_trips_and_knows_its_local_date():
    item = reviewed(utc("2026-01-10T22:00:00"), tz=VLADIVOSTOK)
    assert Fact.from_dict(json.loads(json.dumps(item.to_dict()))) == item
    assert item.local_date == date(2026, 1, 11)
