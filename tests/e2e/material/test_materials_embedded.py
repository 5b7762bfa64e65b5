"""Materials through the gateway of the embedded platform (SQLite, FTS5, the in-process bus),
with the student service's recommendations and gamification reacting to them."""
from tests.e2e.conftest import register_and_login, settle
from tests.e2e.material import flow
from tests.e2e.student.flow import complete_a_lesson
from tests.material_files import exe_bytes, png_bomb, truncated_pdf


async def test_a_teachers_materials_reach_a_linked_student_and_no_one_else(linked):
    client, teacher, student = linked.client, linked.teacher, linked.student
    stranger = await register_and_login(client, "student")
    await complete_a_lesson(client, teacher.headers, student.id)   # a Maths lesson: Maths is recommended
    await settle(client)

    made = await flow.upload_both(client, teacher)
    await settle(client)
    await flow.previews_shown(client, teacher, made)
    assert await _recommended(client, student) == {m["id"] for m in made.values()}
    await flow.student_finds_and_downloads(client, student, made)
    await flow.studied_earns_curious(client, student, made["Дроби.pdf"]["id"], lambda: settle(client))
    await flow.stranger_sees_nothing(client, stranger, made)
    assert await _recommended(client, student) == {made["доска.jpg"]["id"]}     # the PDF is studied

    photo = made["доска.jpg"]["id"]
    assert (await client.delete(f"/api/v1/materials/{photo}", headers=teacher.headers)).status_code == 204
    await settle(client)
    assert await _recommended(client, student) == set()
    listed = await client.get("/api/v1/materials", headers=student.headers)
    assert [m["id"] for m in listed.json()["items"]] == [made["Дроби.pdf"]["id"]]
    assert (await client.get(f"/api/v1/materials/{photo}/download", headers=student.headers)).status_code == 404


async def _recommended(client, student) -> set[str]:
    recommended = await client.get(f"/api/v1/students/{student.id}/recommendations", headers=student.headers)
    assert recommended.status_code == 200, recommended.text
    return {i["material_id"] for i in recommended.json()["items"] if i["kind"] == "material"}


async def test_bad_files_get_a_clear_answer_or_a_file_without_preview(embedded):
    client = embedded
    teacher = await register_and_login(client, "teacher")

    async def upload(name: str, data: bytes):
        return await client.post("/api/v1/materials", headers=teacher.headers, files={"file": (name, data)},
                                 data={"title": name, "subject": "Maths"})

    assert (await upload("setup.pdf", exe_bytes())).status_code == 415
    assert (await upload("empty.pdf", b"")).status_code == 422
    kept = [(await upload(name, data)).json()["id"] for name, data in
            (("bomb.png", png_bomb()), ("broken.pdf", truncated_pdf()))]
    await client.app.state.service_apps["material"].state.background.settle()
    for material_id in kept:
        shown = (await client.get(f"/api/v1/materials/{material_id}", headers=teacher.headers)).json()
        assert (shown["has_preview"], shown["preview_status"]) == (False, "unavailable")
        assert (await client.get(f"/api/v1/materials/{material_id}/download", headers=teacher.headers)).status_code == 200
