"""Gamification through the gateway of the embedded platform: a teacher completes a lesson,
the student sees the XP and «Первый шаг», and the award continues the teacher's request chain."""
from tests.e2e.conftest import register_and_login, settle
from tests.e2e.student.flow import assert_progress_shown, complete_a_lesson


async def test_a_completed_lesson_gives_the_student_xp_and_first_step_in_the_teachers_chain(linked):
    client, teacher, student = linked.client, linked.teacher, linked.student

    completed = await complete_a_lesson(client, teacher.headers, student.id, score=90)
    correlation_id = completed.headers["x-correlation-id"]
    await settle(client)

    await assert_progress_shown(client, student.headers, student.id, xp=100 + 90 + 50)
    published = client.app.state.runtime.bus.published
    earned = [e for e in published if e.type == "achievement.earned" and e.payload["student_id"] == student.id]
    assert [(e.payload["code"], e.correlation_id) for e in earned] == [("first_step", correlation_id)]
    lesson_event = next(e for e in published if e.type == "lesson.completed"
                        and e.payload["student_id"] == student.id)
    assert earned[0].causation_id == lesson_event.id
    xp_events = [e for e in published if e.type == "xp.earned" and e.payload["student_id"] == student.id]
    assert sorted(e.payload["amount"] for e in xp_events) == [50, 190]
    assert {e.correlation_id for e in xp_events} == {correlation_id}

    board = await client.get("/api/v1/leaderboards", params={"scope": "teacher", "period": "week"},
                             headers=teacher.headers)
    assert board.status_code == 200, board.text
    assert [(i["student_id"], i["name"], i["xp"], i["rank"]) for i in board.json()["items"]] == [
        (student.id, "Ivan Student", 240, 1)]
    stranger = await register_and_login(client, "student")
    refused = await client.get(f"/api/v1/students/{student.id}/profile", headers=stranger.headers)
    assert refused.status_code == 404
