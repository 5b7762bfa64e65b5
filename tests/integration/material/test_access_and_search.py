"""Who sees what, sharing, "studied" once, and full-text search in Russian and English: search on
both databases (PostgreSQL's tsvector, SQLite's FTS5), the rest on PostgreSQL."""
import pytest

from tests.material_files import jpeg, pdf


async def _ids(world, owner, who, **params) -> list[str]:
    """The ids of `owner`'s materials that `who` finds (the service holds other tests' materials too)."""
    found = await world.get(who, params={"owner_id": str(owner.id), **params})
    assert found.status_code == 200, found.text
    return [m["id"] for m in found.json()["items"]]


async def test_visibility_decides_who_sees_a_material(world):
    teacher, student, parent, stranger = [await world.person(r) for r in ("teacher", "student", "parent", "student")]
    await world.link(teacher, student)
    await world.link_parent(parent, student)
    made = {v: (await world.upload(teacher, jpeg(), title=v, visibility=v)).json()["id"]
            for v in ("private", "students", "public")}
    assert set(await _ids(world, teacher, teacher)) == set(made.values())
    assert set(await _ids(world, teacher, student)) == set(await _ids(world, teacher, parent)) == {made["students"], made["public"]}
    assert await _ids(world, teacher, stranger) == [made["public"]]
    for path in ("", "/download", "/thumbnail"):
        for material_id in (made["private"], made["students"]):
            assert (await world.get(stranger, path, material_id)).status_code == 404
        assert (await world.get(student, path, made["private"])).status_code == 404
    assert (await world.get(student, "/download", made["students"])).status_code == 200


async def test_a_link_not_heard_of_yet_is_confirmed_by_the_user_service(world):
    teacher, student = await world.person("teacher"), await world.person("student")
    material = (await world.upload(teacher, pdf(), visibility="students")).json()
    assert (await world.get(student, material_id=material["id"])).status_code == 404
    await world.link(teacher, student, heard=False)
    assert (await world.get(student, material_id=material["id"])).status_code == 200


async def test_a_teacher_shares_one_material_with_chosen_students(world):
    teacher, chosen, other = await world.person("teacher"), await world.person("student"), await world.person("student")
    unlinked = await world.person("student")
    await world.link(teacher, chosen)
    await world.link(teacher, other)
    material = (await world.upload(teacher, pdf(), visibility="private")).json()
    url = f"/api/v1/materials/{material['id']}/shares"
    refused = await world.client.put(url, json={"student_ids": [str(chosen.id), str(unlinked.id)]},
                                     headers=teacher.headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["body", "student_ids", "1"]
    shared = await world.client.put(url, json={"student_ids": [str(chosen.id)]}, headers=teacher.headers)
    assert shared.status_code == 200 and shared.json()["shared_with"] == [str(chosen.id)]
    assert await _ids(world, teacher, chosen) == [material["id"]] and await _ids(world, teacher, other) == []
    assert (await world.get(chosen, "/download", material["id"])).status_code == 200
    assert (await world.client.put(url, json={"student_ids": []}, headers=teacher.headers)).status_code == 200
    assert (await world.get(chosen, material_id=material["id"])).status_code == 404


async def test_studied_once_emits_one_event_and_answers_the_same_twice(world):
    teacher, student = await world.person("teacher"), await world.person("student")
    await world.link(teacher, student)
    material = (await world.upload(teacher, pdf(), visibility="students")).json()
    url = f"/api/v1/materials/{material['id']}/studied"
    studied = await world.events("material.studied")
    first = await world.client.post(url, headers=student.headers)
    again = await world.client.post(url, headers=student.headers)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert await world.events("material.studied") == studied + 1
    assert (await world.client.post(url, headers=teacher.headers)).status_code == 403
    stranger = await world.person("student")
    assert (await world.client.post(url, headers=stranger.headers)).status_code == 404


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"], indirect=True)
async def test_search_finds_russian_and_english_words_in_any_form_best_first(world):
    teacher = await world.person("teacher")

    async def made(**fields) -> str:
        uploaded = await world.upload(teacher, pdf(text=fields["title"]), visibility="public", **fields)
        assert uploaded.status_code == 201, uploaded.text
        return uploaded.json()["id"]

    fractions = await made(title="Сложение дробей", subject="Математика", grade_level="5", tags="арифметика")
    mention = await made(title="Повторение", subject="Математика", description="Немного о дробях и процентах")
    tenses = await made(title="Present Simple exercises", subject="English", tags="grammar, tenses")
    await made(title="Периметр", subject="Математика", grade_level="6")

    assert await _ids(world, teacher, teacher, q="дробь") == [fractions, mention]       # title before description
    assert await _ids(world, teacher, teacher, q="exercise") == [tenses]
    assert await _ids(world, teacher, teacher, q="grammar") == [tenses]                  # by a tag
    assert await _ids(world, teacher, teacher, q="дроби", grade_level=5) == [fractions]
    assert await _ids(world, teacher, teacher, q="дроби", subject="математика", tag="арифметика") == [fractions]
    assert await _ids(world, teacher, teacher, q="несуществующее") == []
    assert await _ids(world, teacher, teacher, q="!!!") == []
    first = (await world.get(teacher, params={"q": "дробь", "limit": 1})).json()
    rest = (await world.get(teacher, params={"q": "дробь", "limit": 1, "cursor": first["next_cursor"]})).json()
    assert [m["id"] for m in first["items"] + rest["items"]] == [fractions, mention] and rest["next_cursor"] is None
    edited = await world.client.patch(f"/api/v1/materials/{tenses}", json={"title": "Past Simple"},
                                      headers=teacher.headers)
    assert edited.status_code == 200
    assert await _ids(world, teacher, teacher, q="present") == [] and await _ids(world, teacher, teacher, q="past") == [tenses]
    assert (await world.client.delete(f"/api/v1/materials/{fractions}", headers=teacher.headers)).status_code == 204
    assert await _ids(world, teacher, teacher, q="дробь") == [mention]


async def test_lists_are_newest_first_a_page_at_a_time(world):
    teacher = await world.person("teacher")
    made = [(await world.upload(teacher, pdf(text=str(i)), title=f"Sheet {i}")).json()["id"] for i in range(3)]
    pages, cursor = [], None
    while True:
        params = {"limit": 2, "owner_id": str(teacher.id), **({"cursor": cursor} if cursor else {})}
        page = (await world.get(teacher, params=params)).json()
        pages.append([m["id"] for m in page["items"]])
        if not (cursor := page["next_cursor"]):
            break
    assert pages == [made[::-1][:2], made[::-1][2:]]
    assert (await world.get(teacher, params={"cursor": "bm90IGEgY3Vyc29y"})).status_code == 422
