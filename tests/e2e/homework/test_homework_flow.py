"""Homework through the gateway of the embedded platform: a teacher assigns, the student hands in
files, the teacher reads and grades; XP, achievements and notifications follow from the events."""
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from services.homework.models import Homework
from tests.e2e.conftest import link, register_and_login, settle
from tests.e2e.homework.helpers import ELF, PDF, PNG, assign, due_in, link_parent, main_flow, submit, xp_by_rule


def blobs(client) -> set[Path]:
    root = client.app.state.service_apps["homework"].state.context.storage.root
    return {p for p in root.rglob("*") if p.is_file()}


async def test_assign_submit_download_grade_with_xp_and_notifications(linked):
    client, teacher, student = linked.client, linked.teacher, linked.student
    parent = await register_and_login(client, "parent")
    await link_parent(client, student, parent)
    await settle(client)

    homework = await main_flow(client, teacher, student)
    await settle(client)

    history = (await client.get(f"/api/v1/students/{student.id}/xp-history", headers=student.headers)).json()
    assert xp_by_rule(history) == {"homework_submitted": 50, "homework_graded": 50, "achievement:diligent": 50}
    achievements = (await client.get(f"/api/v1/students/{student.id}/achievements", headers=student.headers)).json()
    assert next(a for a in achievements["items"] if a["code"] == "diligent")["earned_at"] is not None
    told_teacher = (await client.get("/api/v1/notifications", headers=teacher.headers)).json()["items"]
    told_student = (await client.get("/api/v1/notifications", headers=student.headers)).json()["items"]
    assert "homework_submitted" in {n["kind"] for n in told_teacher}
    assert {"homework_assigned", "homework_graded"} <= {n["kind"] for n in told_student}

    # the parent reads it (a file too), and cannot change it
    url = f"/api/v1/homework/{homework['id']}"
    seen = await client.get(url, headers=parent.headers)
    assert seen.status_code == 200 and seen.json()["grades"][0]["score"] == 100
    listed = await client.get("/api/v1/homework", headers=parent.headers)
    assert [h["id"] for h in listed.json()["items"]] == [homework["id"]]
    file = seen.json()["submissions"][0]["files"][1]
    assert (await client.get(f"{url}/files/{file['id']}", headers=parent.headers)).content == PNG
    assert (await client.post(f"{url}/grade", headers=parent.headers, json={"score": 1})).status_code == 403

    # after the grade: no more submissions; a re-grade is kept in the history
    late = await submit(client, student, homework["id"], [("again.pdf", PDF)])
    assert late.status_code == 409, late.text
    regraded = await client.post(f"{url}/grade", headers=teacher.headers, json={"score": 80})
    assert regraded.status_code == 200 and regraded.json()["score"] == 80
    assert [g["score"] for g in (await client.get(url, headers=teacher.headers)).json()["grades"]] == [100, 80]


async def test_strangers_get_404_on_every_route_of_a_homework(embedded):
    client = embedded
    teacher = await register_and_login(client, "teacher")
    student = await register_and_login(client, "student")
    other_teacher = await register_and_login(client, "teacher")
    unlinked_student = await register_and_login(client, "student")
    await link(client, teacher, student)
    await settle(client)
    homework = (await assign(client, teacher, student.id)).json()
    handed_in = (await submit(client, student, homework["id"], [("a.pdf", PDF)])).json()
    url = f"/api/v1/homework/{homework['id']}"
    file_url = f"{url}/files/{handed_in['submissions'][0]['files'][0]['id']}"

    for stranger in (other_teacher, unlinked_student):
        answers = [
            await client.get(url, headers=stranger.headers),
            await client.patch(url, headers=stranger.headers, json={"title": "Mine now"}),
            await submit(client, stranger, homework["id"], [("b.pdf", PDF)]),
            await client.post(f"{url}/attachments", headers=stranger.headers, files=[("files", ("c.pdf", PDF))]),
            await client.post(f"{url}/grade", headers=stranger.headers, json={"score": 1}),
            await client.get(file_url, headers=stranger.headers),
        ]
        assert [a.status_code for a in answers] == [404] * 6, [a.text for a in answers]
        assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
        listed = await client.get("/api/v1/homework", headers=stranger.headers)
        assert listed.json()["items"] == []


async def test_bad_input_is_refused_and_leaves_no_blob(embedded):
    client = embedded
    teacher = await register_and_login(client, "teacher")
    student = await register_and_login(client, "student")
    unlinked = await register_and_login(client, "student")
    await link(client, teacher, student)
    await settle(client)

    refused = await assign(client, teacher, unlinked.id)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"loc": ["body", "student_id"], "msg": "not linked to the teacher"}]
    several = await client.post("/api/v1/homework", headers=teacher.headers, json={
        "student_ids": [student.id, unlinked.id], "title": "T", "due_at": due_in(5)})
    assert several.json()["errors"][0]["loc"] == ["body", "student_ids", "1"]
    assert (await client.get("/api/v1/homework", headers=teacher.headers)).json()["items"] == []

    homework = (await assign(client, teacher, student.id)).json()
    before = blobs(client)
    renamed = await submit(client, student, homework["id"], [("fine.png", PNG), ("task.pdf", ELF)])
    assert renamed.status_code == 415, renamed.text
    assert renamed.headers["content-type"] == "application/problem+json"
    assert blobs(client) == before
    assert (await client.post(f"/api/v1/homework/{homework['id']}/grade", headers=teacher.headers,
                              json={"score": 5})).status_code == 409   # nothing submitted
    submissions = f"/api/v1/homework/{homework['id']}/submissions"
    blank = await client.post(submissions, headers=student.headers, files=[("text", (None, "  "))])
    assert blank.status_code == 422, blank.text
    odd = await client.post(submissions, headers=student.headers, files=[("attachment", ("a.pdf", PDF))])
    assert odd.json()["errors"] == [{"loc": ["body", "attachment"], "msg": "unexpected field"}]
    assert (await client.post(submissions, headers=student.headers, json={"text": "hi"})).status_code == 415


async def test_several_students_statuses_filters_and_pages(embedded):
    client = embedded
    teacher = await register_and_login(client, "teacher")
    first, second = [await register_and_login(client, "student") for _ in range(2)]
    for student in (first, second):
        await link(client, teacher, student)
    await settle(client)

    batch = await client.post("/api/v1/homework", headers=teacher.headers, json={
        "student_ids": [first.id, second.id], "title": "Essay", "due_at": due_in(72), "max_score": 10})
    assert batch.status_code == 201, batch.text
    assert {h["student_id"] for h in batch.json()["items"]} == {first.id, second.id}
    soon = (await assign(client, teacher, first.id, due_at=due_in(1))).json()
    await submit(client, first, soon["id"], [("a.pdf", PDF)], text="done")

    def ids(response):
        assert response.status_code == 200, response.text
        return [h["id"] for h in response.json()["items"]]

    mine = ids(await client.get("/api/v1/homework", params={"student_id": first.id}, headers=teacher.headers))
    assert len(mine) == 2 and mine[0] == soon["id"]            # newest first
    by_due = ids(await client.get("/api/v1/homework", params={"order": "due"}, headers=teacher.headers))
    assert by_due[0] == soon["id"]
    assert ids(await client.get("/api/v1/homework", params={"status": "submitted"}, headers=first.headers)) == [
        soon["id"]]
    assert ids(await client.get("/api/v1/homework", params={"due_before": due_in(2)},
                                headers=teacher.headers)) == [soon["id"]]
    page = await client.get("/api/v1/homework", params={"limit": 2}, headers=teacher.headers)
    rest = await client.get("/api/v1/homework", params={"limit": 2, "cursor": page.json()["next_cursor"]},
                            headers=teacher.headers)
    assert len(set(ids(page)) | set(ids(rest))) == 3

    # past its due time with nothing handed in, a homework is overdue (computed when read)
    late_id = batch.json()["items"][1]["id"]
    async with client.app.state.service_apps["homework"].state.session_factory() as session:
        await session.execute(update(Homework).where(Homework.id == uuid.UUID(late_id))
                              .values(due_at=datetime.now(UTC) - timedelta(minutes=1)))
        await session.commit()
    assert ids(await client.get("/api/v1/homework", params={"status": "overdue"}, headers=teacher.headers)) == [
        late_id]
    assert late_id not in ids(await client.get("/api/v1/homework", params={"status": "assigned"},
                                               headers=teacher.headers))
    assert (await client.get(f"/api/v1/homework/{late_id}", headers=teacher.headers)).json()["status"] == "overdue"

    # the due time moves; a past one is refused
    moved = await client.patch(f"/api/v1/homework/{late_id}", headers=teacher.headers,
                               json={"due_at": due_in(96)})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "assigned"
    assert (await client.patch(f"/api/v1/homework/{soon['id']}", headers=teacher.headers,
                               json={"due_at": due_in(-1)})).status_code == 422
