"""The progress endpoints: who may see what, and what a student is told to do next."""
import uuid
from datetime import UTC, datetime, time, timedelta

from shared.events import CardReviewed, MaterialStudied, MaterialUploaded, ParentLinked, make_event
from tests.integration.student.world import StudentWorld, lesson_completed, moscow

PATHS = ("profile", "achievements", "xp-history", "recommendations")


async def test_a_student_is_seen_by_self_linked_teacher_and_parent_and_admin_only(world: StudentWorld):
    student = await world.known_student()
    teacher = await world.linked_teacher(student)
    parent = world.person("parent")
    await world.tell(ParentLinked(parent_id=parent.id, student_id=student.id))
    await world.publish(lesson_completed(student.id, moscow(3)))
    await world.wait_for_facts(student.id, 1)
    from services.student.models import ParentLink
    await world.wait_for(ParentLink, parent_id=parent.id)

    for path in PATHS:
        url = f"/api/v1/students/{student.id}/{path}"
        for who in (student, teacher, parent, world.person("admin")):
            assert (await world.get(url, who)).status_code == 200, (path, who.role)
        for who in (world.person("student"), world.person("teacher"), world.person("parent")):
            response = await world.get(url, who)
            assert response.status_code == 404, (path, who.role)
            assert response.headers["content-type"].startswith("application/problem+json")
        assert (await world.client.get(url)).status_code == 401
    unknown = f"/api/v1/students/{uuid.uuid4()}/profile"
    assert (await world.get(unknown, world.person("admin"))).status_code == 404
    assert (await world.get("/api/v1/students/not-a-uuid/profile", student)).status_code == 422


async def test_a_new_student_sees_an_empty_profile_of_their_own(world: StudentWorld):
    student = world.person("student")
    profile = (await world.get(f"/api/v1/students/{student.id}/profile", student)).json()
    assert (profile["xp"], profile["level"], profile["xp_for_next_level"], profile["streak_days"]) == (0, 1, 1000, 0)


async def test_profile_achievements_and_history_explain_the_xp(world: StudentWorld):
    student = await world.known_student()
    lesson = lesson_completed(student.id, moscow(3), score=20, lesson_type="intensive")
    await world.publish(lesson)
    await world.wait_for_facts(student.id, 1)

    profile = (await world.get(f"/api/v1/students/{student.id}/profile", student)).json()
    assert (profile["xp"], profile["xp_into_level"], profile["xp_to_next_level"]) == (220, 220, 780)
    history = (await world.get(f"/api/v1/students/{student.id}/xp-history", student, limit=1)).json()
    assert history["items"][0]["rule"] == "achievement:first_step" and history["next_cursor"]
    rest = (await world.get(f"/api/v1/students/{student.id}/xp-history", student,
                            cursor=history["next_cursor"])).json()
    assert [(e["rule"], e["amount"], e["source_event_id"]) for e in rest["items"]] == [
        ("lesson_attended", 170, str(lesson.id))]
    bad = await world.get(f"/api/v1/students/{student.id}/xp-history", student, cursor="%%%")
    assert bad.status_code == 422

    achievements = (await world.get(f"/api/v1/students/{student.id}/achievements", student, locale="en")).json()
    by_code = {a["code"]: a for a in achievements["items"]}
    assert by_code["first_step"]["earned_at"] and by_code["first_step"]["title"] == "First step"
    assert by_code["student"]["progress"] == {"current": 1, "target": 10}
    assert "night_owl" not in by_code and "comeback" not in by_code  # hidden until earned
    assert len(by_code) == 18


async def test_recommendations_say_what_to_do_next_and_why(world: StudentWorld):
    student = await world.known_student(tz="UTC")
    teacher = await world.linked_teacher(student)
    today = datetime.now(UTC).date()
    yesterday_noon = datetime.combine(today - timedelta(days=1), time(12), UTC)
    fresh, studied, private = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await world.tell(
        MaterialUploaded(material_id=fresh, teacher_id=teacher.id, subject="Maths", visibility="students",
                         title="Fractions"),
        MaterialUploaded(material_id=studied, teacher_id=teacher.id, subject="maths", visibility="public"),
        MaterialUploaded(material_id=private, teacher_id=teacher.id, subject="maths", visibility="private"),
        producer="material")
    await world.publish(
        lesson_completed(student.id, yesterday_noon, teacher_id=teacher.id, subject="maths"),
        make_event(MaterialStudied(material_id=studied, student_id=student.id, subject="maths"),
                   producer="material", occurred_at=yesterday_noon - timedelta(days=3)),
        make_event(CardReviewed(card_id=uuid.uuid4(), deck_id=uuid.uuid4(), student_id=student.id, rating="good",
                                reviewed_at=yesterday_noon - timedelta(days=1), learned=False),
                   producer="dictionary", occurred_at=yesterday_noon - timedelta(days=1)))
    await world.wait_for_facts(student.id, 3)

    response = await world.get(f"/api/v1/students/{student.id}/recommendations", student, locale="en")
    items = response.json()["items"]
    kinds = [item["kind"] for item in items]
    assert kinds[0] == "streak" and "ends at midnight" in items[0]["reason"]
    assert "achievement" in kinds and all(item["reason"] for item in items)
    dictionary = next(item for item in items if item["kind"] == "dictionary")
    assert "review history" in dictionary["reason"]
    assert dictionary["last_reviewed_on"] == (today - timedelta(days=2)).isoformat()
    materials = [item for item in items if item["kind"] == "material"]
    assert [m["material_id"] for m in materials] == [str(fresh)]
    russian = (await world.get(f"/api/v1/students/{student.id}/recommendations", student)).json()["items"]
    assert "полночь" in russian[0]["reason"]
