"""Changing the rule set through the API: validation, dry run, retroactive awards on the bus."""
import copy
import uuid

from sqlalchemy import func, select

from services.student.models import EarnedAchievement, RuleSetVersion, XpEntry
from tests.integration.student.world import StudentWorld, lesson_completed, moscow

RULES = "/api/v1/gamification/rules"


async def current(world: StudentWorld, admin) -> dict:
    response = await world.get(RULES, admin)
    assert response.status_code == 200, response.text
    return response.json()


def with_student_threshold(rules: dict, threshold: int) -> dict:
    changed = copy.deepcopy(rules)
    student = next(a for a in changed["achievements"] if a["code"] == "student")
    student["rule"]["threshold"] = threshold
    return changed


async def students_with_lessons(world: StudentWorld, counts: list[int]) -> list:
    students = [world.person("student") for _ in counts]
    events = [lesson_completed(s.id, moscow(1 + day)) for s, n in zip(students, counts) for day in range(n)]
    await world.publish(*events)
    for student, count in zip(students, counts):
        await world.wait_for_facts(student.id, count)
    return students


async def test_only_an_admin_reads_or_changes_the_rules(world: StudentWorld):
    teacher = world.person("teacher")
    assert (await world.get(RULES, teacher)).status_code == 403
    assert (await world.client.get(RULES)).status_code == 401
    response = await world.client.put(RULES, json={"achievements": []}, headers=teacher.headers)
    assert response.status_code == 403


async def test_the_active_rules_are_the_shipped_default_at_version_1(world: StudentWorld):
    rules = await current(world, world.person("admin"))
    assert rules["version"] == 1
    assert len(rules["rules"]["achievements"]) == 20


async def test_an_invalid_rule_set_is_refused_with_every_error_and_changes_nothing(world: StudentWorld):
    admin = world.person("admin")
    rules = (await current(world, admin))["rules"]
    broken = copy.deepcopy(rules)
    broken["achievements"][1]["rule"]["metric"] = "lessons_finished"
    broken["achievements"][2]["requires"] = ["nobody"]
    broken["metrics"]["logins"] = {"fact": "user.created"}
    broken["achievements"][0]["xp_reward"] = 10 ** 12
    broken["level_curve"] = {"kind": "geometric", "threshold": 1000, "multiplier": 1.5, "max_level": 10000}
    response = await world.client.put(RULES, json=broken, headers=admin.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    messages = " | ".join(error["msg"] for error in response.json()["errors"])
    assert "unknown metric 'lessons_finished'" in messages
    assert "requires unknown achievement 'nobody'" in messages
    assert "does not receive 'user.created'" in messages
    assert "at most 1,000,000 XP" in messages and "level curve overflows" in messages
    assert (await current(world, admin))["version"] == 1
    for body in ("[1, 2]", "{not json"):
        response = await world.client.put(RULES, content=body, headers={**admin.headers,
                                                                      "Content-Type": "application/json"})
        assert response.status_code in (400, 422)


async def test_a_dry_run_reports_who_would_gain_what_and_changes_nothing(world: StudentWorld):
    admin = world.person("admin")
    four, one = await students_with_lessons(world, [4, 1])
    rules = with_student_threshold((await current(world, admin))["rules"], 4)
    async with world.app.state.session_factory() as session:
        ledger_before = await session.scalar(select(func.count()).select_from(XpEntry))

    response = await world.client.post(f"{RULES}/dry-run", json=rules, headers=admin.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["version"], report["proposed_version"]) == (1, 2)
    assert report["items"] == [{"student_id": str(four.id), "achievements_gained": ["student"], "xp_gained": 50}]
    same = await world.client.put(f"{RULES}?dry_run=true", json=rules, headers=admin.headers)
    assert same.json()["items"] == report["items"]

    async with world.app.state.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(XpEntry)) == ledger_before
        assert await session.scalar(select(func.max(RuleSetVersion.version))) == 1
    assert "student" not in (await world.state(four.id)).earned


async def test_applying_a_lowered_threshold_awards_it_retroactively_with_events_and_never_revokes(
        world: StudentWorld, tap):
    admin = world.person("admin")
    four, one = await students_with_lessons(world, [4, 1])
    rules = with_student_threshold((await current(world, admin))["rules"], 4)

    response = await world.client.put(RULES, json=rules, headers={**admin.headers, "If-Match": "1"})
    assert response.status_code == 200, response.text
    applied = response.json()
    assert applied["version"] == 2
    assert applied["retroactive"]["items"] == [
        {"student_id": str(four.id), "achievements_gained": ["student"], "xp_gained": 50}]
    earned = await tap.wait_for("achievement.earned", count=2, student_id=four.id)  # first_step live, student now
    assert [event.payload["code"] for event in earned] == ["first_step", "student"]
    assert earned[1].payload["ruleset_version"] == 2

    raised = with_student_threshold(rules, 40)
    response = await world.client.put(RULES, json=raised, headers=admin.headers)
    assert response.status_code == 200 and response.json()["version"] == 3
    async with world.app.state.session_factory() as session:
        codes = set(await session.scalars(select(EarnedAchievement.code)
                                           .where(EarnedAchievement.student_id == four.id)))
    assert codes == {"first_step", "student"}
    profile = (await world.get(f"/api/v1/students/{four.id}/profile", four)).json()
    assert profile["xp"] == 4 * 150 + 50 + 50


async def test_a_change_based_on_an_outdated_version_is_a_conflict(world: StudentWorld):
    admin = world.person("admin")
    rules = (await current(world, admin))["rules"]
    assert (await world.client.put(RULES, json=rules, headers=admin.headers)).status_code == 200
    stale = await world.client.put(RULES, json=rules, headers={**admin.headers, "If-Match": '"1"'})
    assert stale.status_code == 409


async def store_without_awarding(world: StudentWorld, rules: dict) -> None:
    """Version 2 stored as by an instance that stopped before awarding anything."""
    from services.student.rulebook import store_version
    from services.student.validation import validate_rules
    async with world.app.state.uow_factory() as uow:
        await store_version(uow.session, validate_rules(rules, 2), uuid.uuid4())
        await uow.commit()


async def test_a_rule_change_interrupted_before_its_awards_is_finished_by_the_catch_up(world: StudentWorld, tap):
    from services.student.rule_changes import catch_up_everyone
    admin = world.person("admin")
    (student,) = await students_with_lessons(world, [4])
    await store_without_awarding(world, with_student_threshold((await current(world, admin))["rules"], 4))

    assert await catch_up_everyone(world.app.state.uow_factory, world.app.state.deps.game, batch=10) == 1
    assert list((await world.state(student.id)).earned) == ["first_step", "student"]
    await tap.wait_for("achievement.earned", count=2, student_id=student.id)
    assert await catch_up_everyone(world.app.state.uow_factory, world.app.state.deps.game, batch=10) == 0


async def test_the_next_fact_of_a_student_judged_under_older_rules_catches_them_up_first(world: StudentWorld):
    admin = world.person("admin")
    (student,) = await students_with_lessons(world, [4])
    await store_without_awarding(world, with_student_threshold((await current(world, admin))["rules"], 4))
    async with world.app.state.session_factory() as session:
        await world.app.state.deps.game.book.refresh(session)  # as the periodic refresh does

    await world.publish(lesson_completed(student.id, moscow(20)))
    await world.wait_for_facts(student.id, 5)
    state = await world.state(student.id)
    assert list(state.earned) == ["first_step", "student"] and state.ruleset_version == 2
    ledger = await world.ledger(student.id)
    assert [(e.rule, e.source_event_id is None) for e in ledger][-2:] == [
        ("achievement:student", True), ("lesson_attended", False)]
