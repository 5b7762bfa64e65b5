"""Rebuilding from history: replay equals live, arrival order does not matter, rule changes are safe."""
import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.student.engine import (
    Fact,
    StudentState,
    apply_fact,
    award_retroactively,
    current_streak,
    dry_run,
    replay,
)
from services.student.levels import LevelCurve
from services.student.ruleset import load_default_ruleset, parse_ruleset

START = datetime(2026, 3, 1, tzinfo=UTC)  # New York changes clocks on 8 March
ZONES = ["Europe/Moscow", "Asia/Vladivostok", "America/New_York", "UTC"]
TODAY = date(2026, 4, 20)
LOWER = {  # thresholds small enough for short random histories to reach, chains included
    "student": 3, "expert": 5, "master": 8, "perfectionist": 2, "punctual": 2, "vocabulary": 3,
    "first_words": 5, "bookworm": 3, "active_learner": 3, "marathon": 3,
}


def reachable_rules(*, without: tuple[str, ...] = ()):
    data = copy.deepcopy(load_default_ruleset().to_dict())
    for item in data["achievements"]:
        rule = item["rule"]
        if item["code"] in LOWER:
            rule["threshold"] = LOWER[item["code"]]
        if rule["kind"] == "streak":
            rule["days"] = {7: 3, 30: 5, 365: 8}[rule["days"]]
        if rule["kind"] == "level":
            rule["level"] = {10: 3, 50: 5}[rule["level"]]
        if rule["kind"] == "gap":
            rule["days"] = 10
        if item["code"] == "night_owl":
            item["requires"] = ["diligent"]  # so that a matched event waits in the state's flags
    data["achievements"] = [item for item in data["achievements"] if item["code"] not in without]
    return parse_ruleset(data)


RULES = reachable_rules()
RULES_WITHOUT_GAPS = reachable_rules(without=("comeback",))  # a gap can close later: order matters there
CURVE = LevelCurve(threshold=150)  # flat enough for short histories to reach level 5
IDS = [str(uuid.UUID(int=number)) for number in range(1, 13)]


def moments():
    return st.integers(min_value=0, max_value=25 * 24 * 60).map(lambda minutes: START + timedelta(minutes=minutes))


@st.composite
def lesson_payloads(draw, lesson_id: str):
    starts_at = draw(moments())
    return {
        "lesson_id": lesson_id,
        "attended": draw(st.booleans() | st.just(True)),
        "lesson_type": draw(st.sampled_from(["regular", "trial", "intensive", "exam_prep"])),
        "score": draw(st.none() | st.integers(min_value=0, max_value=100)),
        "starts_at": starts_at.isoformat(),
        "duration_minutes": draw(st.sampled_from([45, 60, 90])),
    }, starts_at + timedelta(hours=1)


@st.composite
def facts(draw, lessons: dict | None = None):
    """One fact of any type; with `lessons`, every event about a lesson carries that lesson's data."""
    kind = draw(st.sampled_from([
        "lesson.completed", "lesson.cancelled", "homework.submitted", "homework.graded",
        "material.studied", "payment.completed", "dictionary.card_reviewed",
    ]))
    when, zone = draw(moments()), draw(st.sampled_from(ZONES))
    if kind == "lesson.completed":
        lesson_id = draw(st.sampled_from(IDS[:8]))
        payload, when = lessons[lesson_id] if lessons else draw(lesson_payloads(lesson_id))
        zone = ZONES[int(lesson_id[-1], 16) % len(ZONES)] if lessons else zone
    elif kind == "lesson.cancelled":
        payload = {"lesson_id": draw(st.sampled_from(IDS)), "reason": "ill", "starts_at": when.isoformat()}
    elif kind == "homework.submitted":
        payload = {"homework_id": draw(st.sampled_from(IDS[:5])), "on_time": draw(st.booleans())}
    elif kind == "homework.graded":
        max_score = draw(st.sampled_from([0, 5, 10]))
        score = draw(st.integers(min_value=0, max_value=max(max_score, 1)))
        payload = {"homework_id": draw(st.sampled_from(IDS[:5])), "score": score, "max_score": max_score}
    elif kind == "material.studied":
        payload = {"material_id": draw(st.sampled_from(IDS)), "subject": "math"}
    elif kind == "payment.completed":
        payload = {"payment_id": str(uuid.uuid4()), "amount": draw(st.integers(min_value=0, max_value=8_000_000))}
    else:
        payload = {"card_id": draw(st.sampled_from(IDS)), "learned": draw(st.booleans()), "rating": "good"}
    return Fact(uuid.UUID(int=draw(st.integers(min_value=1, max_value=2**64))), kind, when, zone, payload)


@st.composite
def deliveries(draw, lessons: bool = False):
    """(distinct facts in ingestion order, every delivery in arrival order with redeliveries)."""
    known = {lesson_id: draw(lesson_payloads(lesson_id)) for lesson_id in IDS[:8]} if lessons else None
    stored = draw(st.lists(facts(known), min_size=5, max_size=80, unique_by=lambda item: item.event_id))
    again = draw(st.lists(st.sampled_from(stored), max_size=15))
    arrivals = draw(st.permutations(stored + again))
    first_seen: dict[uuid.UUID, Fact] = {}
    for item in arrivals:
        first_seen.setdefault(item.event_id, item)
    return list(first_seen.values()), arrivals


def live(arrivals, rules=RULES):
    """As the service runs: the inbox lets each event through once (a redelivery finds its row),
    then the stored state row is loaded, the fact applied and the row stored again."""
    row = StudentState().to_dict()
    inbox: set[uuid.UUID] = set()
    outcomes = []
    for item in arrivals:
        if item.event_id in inbox:
            continue
        inbox.add(item.event_id)
        state = StudentState.from_dict(json.loads(json.dumps(row)))
        outcomes.append(apply_fact(state, item, rules, CURVE))
        row = state.to_dict()
    return StudentState.from_dict(row), outcomes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_replay_of_the_stored_facts_equals_live_processing(delivered):
    ingested, arrivals = delivered
    live_state, live_outcomes = live(arrivals)
    replayed, replay_outcomes = replay(ingested, RULES, CURVE)
    assert replayed.total_xp == live_state.total_xp
    assert replayed.level == live_state.level
    assert replayed.longest_streak == live_state.longest_streak
    assert current_streak(replayed, TODAY) == current_streak(live_state, TODAY)
    assert list(replayed.earned.items()) == list(live_state.earned.items())
    assert replayed.to_dict() == live_state.to_dict()
    assert replay_outcomes == live_outcomes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries(lessons=True), st.randoms(use_true_random=False))
def test_total_xp_and_achievements_do_not_depend_on_arrival_order(delivered, random):
    ingested, _ = delivered
    shuffled = random.sample(ingested, len(ingested))
    first, _ = replay(ingested, RULES_WITHOUT_GAPS, CURVE)
    second, _ = replay(shuffled, RULES_WITHOUT_GAPS, CURVE)
    assert first.total_xp == second.total_xp
    assert first.level == second.level
    assert set(first.earned) == set(second.earned)
    assert first.learning_days == second.learning_days
    assert first.longest_streak == second.longest_streak


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_level_never_decreases_and_every_award_is_explained(delivered):
    _, arrivals = delivered
    state = StudentState()
    for item in arrivals:
        level = state.level
        outcome = apply_fact(state, item, RULES, CURVE)
        assert state.level >= level
        if outcome.level_change:
            assert outcome.level_change == (level, state.level)
        for award in outcome.xp_awards:
            assert award.amount > 0 and award.rule and award.source_event_id == item.event_id


def test_the_reachable_rules_do_award_most_achievements_on_a_long_history():
    history = []
    for day in range(40):
        moment = START + timedelta(days=day, hours=20)
        lesson_id = str(uuid.uuid4())
        payload = {"lesson_id": lesson_id, "attended": True, "lesson_type": "intensive", "score": 90,
                   "starts_at": (moment - timedelta(hours=1)).isoformat(), "duration_minutes": 90}
        history.append(Fact(uuid.uuid4(), "lesson.completed", moment, "Europe/Moscow", payload))
    homework = Fact(uuid.uuid4(), "homework.submitted", START + timedelta(days=41), "UTC", {"homework_id": IDS[0]})
    state, _ = replay([*history, homework], RULES, CURVE)
    assert {"first_step", "student", "expert", "master", "week_streak", "iron_discipline", "unstoppable",
            "advanced", "legend", "marathon", "active_learner", "diligent", "night_owl"} <= set(state.earned)
    assert state.earned["night_owl"] == homework.occurred_at  # its late lesson waited for «Исполнительный»


# --- rule changes --------------------------------------------------------------------------
DEFAULT = load_default_ruleset()
DEFAULT_CURVE = DEFAULT.curve()
NOON = datetime(2026, 1, 10, 9, tzinfo=UTC)
LATER = datetime(2026, 2, 1, 12, tzinfo=UTC)


def event(kind: str, when: datetime, **payload) -> Fact:
    return Fact(uuid.uuid4(), kind, when, "Europe/Moscow", payload)


def lessons(count: int, *, starts_hour: int = 12) -> list[Fact]:
    days = [NOON + timedelta(days=day * 2) for day in range(count)]
    return [
        event("lesson.completed", day + timedelta(hours=5), lesson_id=str(uuid.uuid4()), attended=True,
              starts_at=day.replace(hour=starts_hour - 3).isoformat(), duration_minutes=60)
        for day in days
    ]


def default_with(change):
    data = copy.deepcopy(DEFAULT.to_dict())
    change(data)
    return parse_ruleset(data)


def new_achievement(code: str, rule: dict) -> dict:
    return {"code": code, "title": {"ru": code, "en": code}, "tier": "common", "rule": rule}


def student_threshold(value: int):
    return default_with(lambda data: data["achievements"][1]["rule"].update(threshold=value))


def test_a_lowered_threshold_is_awarded_retroactively_at_now():
    state, _ = replay(lessons(4), DEFAULT, DEFAULT_CURVE)
    outcome = award_retroactively(state, student_threshold(4), DEFAULT_CURVE, LATER)
    assert [award.code for award in outcome.achievements] == ["student"]
    assert state.earned["student"] == LATER
    assert [(award.rule, award.source_event_id) for award in outcome.xp_awards] == [("achievement:student", None)]


def test_a_raised_threshold_never_takes_an_achievement_away():
    state, _ = replay(lessons(1), DEFAULT, DEFAULT_CURVE)
    raised = default_with(lambda data: data["achievements"][0]["rule"].update(threshold=5))
    outcome = award_retroactively(state, raised, DEFAULT_CURVE, LATER)
    assert outcome.is_empty and "first_step" in state.earned


def test_retroactive_awards_follow_prerequisite_chains():
    state, _ = replay(lessons(12), DEFAULT, DEFAULT_CURVE)
    def lower(data):
        for item in data["achievements"][6], data["achievements"][12]:  # expert, master
            item["rule"]["threshold"] = 12
    outcome = award_retroactively(state, default_with(lower), DEFAULT_CURVE, LATER)
    assert [award.code for award in outcome.achievements] == ["expert", "master"]


def test_an_achievement_on_a_new_counter_needs_no_code():
    def add(data):
        data["metrics"]["easy_reviews"] = {"fact": "dictionary.card_reviewed", "where": {"rating": "easy"}}
        data["achievements"].append(new_achievement("easy_peasy", {"kind": "counter", "metric": "easy_reviews", "threshold": 3}))
    facts = [event("dictionary.card_reviewed", NOON, card_id=IDS[0], rating="easy", learned=False) for _ in range(3)]
    state, _ = replay(facts, DEFAULT, DEFAULT_CURVE)
    new_rules = default_with(add)
    assert award_retroactively(state.copy(), new_rules, DEFAULT_CURVE, LATER).achievements == []  # never counted
    outcome = award_retroactively(state, new_rules, DEFAULT_CURVE, LATER, facts)
    assert [award.code for award in outcome.achievements] == ["easy_peasy"]
    assert "easy_peasy" in replay(facts, new_rules, DEFAULT_CURVE)[0].earned


def test_a_new_event_rule_is_checked_against_the_stored_facts():
    early = {"kind": "event", "fact": "lesson.completed", "local_time": {"field": "starts_at", "start": "06:00", "end": "08:59"}}
    new_rules = default_with(lambda data: data["achievements"].append(new_achievement("early_bird", early)))
    facts = lessons(2, starts_hour=10)  # 07:00 UTC: 10:00 in Moscow
    state, _ = replay(facts, DEFAULT, DEFAULT_CURVE)
    assert award_retroactively(state.copy(), new_rules, DEFAULT_CURVE, LATER, facts).achievements == []
    facts = lessons(2, starts_hour=8)  # 08:00 in Moscow
    state, _ = replay(facts, DEFAULT, DEFAULT_CURVE)
    outcome = award_retroactively(state, new_rules, DEFAULT_CURVE, LATER, facts)
    assert [award.code for award in outcome.achievements] == ["early_bird"]


def test_dry_run_reports_gains_and_changes_nothing():
    first, second, newcomer = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
    facts = {first: lessons(4), second: lessons(1), newcomer: lessons(1)}
    states = {student: replay(facts[student], DEFAULT, DEFAULT_CURVE)[0] for student in (first, second)}
    before = {student: state.to_dict() for student, state in states.items()}
    report = dry_run(facts, states, student_threshold(4), DEFAULT_CURVE)
    assert report == [
        {"student_id": first, "achievements_gained": ["student"], "xp_gained": 50},
        {"student_id": newcomer, "achievements_gained": ["first_step"], "xp_gained": 100 + 50},
    ]
    assert {student: state.to_dict() for student, state in states.items()} == before
