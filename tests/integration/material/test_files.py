"""Uploads, previews, downloads and deletion of the material service on PostgreSQL."""
import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import update

from services.material.models import Material
from services.material.preview_jobs import resume_previews
from shared.events import UserDeleted, make_event
from tests.material_files import exe_bytes, jpeg, pdf, png_bomb, truncated_pdf
from tests.support import eventually


async def test_an_upload_answers_at_once_and_its_preview_follows(world):
    teacher = await world.person("teacher")
    uploaded = await world.upload(teacher, jpeg(640, 480), "доска.jpg", tags="дроби, 5 класс",
                                  grade_level="5", description="Photo of the board")
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert (body["content_type"], body["size"], body["filename"], body["tags"], body["grade_level"]) == \
        ("image/jpeg", len(jpeg(640, 480)), "доска.jpg", ["дроби", "5 класс"], 5)
    assert body["has_preview"] is False and body["preview_status"] in ("pending", "ready")

    await world.settled()
    shown = (await world.get(teacher, material_id=body["id"])).json()
    assert (shown["has_preview"], shown["thumbnail_width"], shown["thumbnail_height"]) == (True, 320, 240)
    thumb = await world.get(teacher, "/thumbnail", body["id"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)


async def test_a_pdf_is_previewed_by_its_first_page(world):
    teacher = await world.person("teacher")
    material = (await world.upload(teacher, pdf(600, 800), "worksheet.pdf")).json()
    await world.settled()
    shown = (await world.get(teacher, material_id=material["id"])).json()
    assert (shown["content_type"], shown["has_preview"], shown["thumbnail_width"], shown["thumbnail_height"]) == \
        ("application/pdf", True, 240, 320)


async def test_a_download_is_the_same_bytes_with_its_name_ranges_and_etag(world):
    teacher = await world.person("teacher")
    data = pdf(text="Download me")
    material = (await world.upload(teacher, data, "Дроби 5 класс.pdf")).json()
    whole = await world.get(teacher, "/download", material["id"])
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%D0%94%D1%80%D0%BE%D0%B1%D0%B8%205%20%D0%BA%D0%BB%D0%B0%D1%81%D1%81.pdf" in \
        whole.headers["content-disposition"]
    part = await world.get(teacher, "/download", material["id"], headers={"Range": "bytes=10-29"})
    assert (part.status_code, part.content, part.headers["content-range"]) == \
        (206, data[10:30], f"bytes 10-29/{len(data)}")
    again = await world.get(teacher, "/download", material["id"], headers={"If-None-Match": whole.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    past = await world.get(teacher, "/download", material["id"], headers={"Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("data, filename, status", [
    (exe_bytes(), "worksheet.pdf", 415),          # an executable renamed .pdf
    (b"", "empty.pdf", 422),
    (b"x" * (2 * 1024 * 1024 + 1), "big.txt", 413),
])
async def test_refused_files_leave_nothing_stored(world, data, filename, status):
    teacher, before = await world.person("teacher"), world.blobs()
    refused = await world.upload(teacher, data, filename)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert world.blobs() == before
    assert (await world.get(teacher, params={"owner_id": str(teacher.id)})).json()["items"] == []


async def test_invalid_fields_are_422_and_leave_nothing_stored(world):
    teacher, before = await world.person("teacher"), world.blobs()
    refused = await world.upload(teacher, pdf(text="invalid"), title="", grade_level="13", visibility="everyone")
    assert refused.status_code == 422
    assert {tuple(e["loc"]) for e in refused.json()["errors"]} == \
        {("body", "title"), ("body", "grade_level"), ("body", "visibility")}
    assert world.blobs() == before


async def test_files_that_cannot_be_previewed_are_stored_and_served_without_a_preview(world):
    teacher = await world.person("teacher")
    kept = {}
    for name, data in (("bomb.png", png_bomb()), ("broken.pdf", truncated_pdf()), ("notes.txt", "Конспект".encode())):
        uploaded = await world.upload(teacher, data, name)
        assert uploaded.status_code == 201, uploaded.text
        kept[uploaded.json()["id"]] = data
    await world.settled()   # the worker is done with all three, and free
    for material_id, data in kept.items():
        shown = (await world.get(teacher, material_id=material_id)).json()
        assert (shown["has_preview"], shown["preview_status"]) == (False, "unavailable")
        assert (await world.get(teacher, "/thumbnail", material_id)).status_code == 404
        assert (await world.get(teacher, "/download", material_id)).content == data
    later = (await world.upload(teacher, jpeg(), "after.jpg")).json()
    await world.settled()
    assert (await world.get(teacher, material_id=later["id"])).json()["has_preview"] is True


async def test_the_same_bytes_are_stored_once_and_removed_with_the_last_material(world):
    teacher, before, photo = await world.person("teacher"), world.blobs(), jpeg(tint=1)
    first = (await world.upload(teacher, photo, "a.jpg", title="First")).json()
    second = (await world.upload(teacher, photo, "b.jpg", title="Second")).json()
    await world.settled()
    added = world.blobs() - before
    assert first["id"] != second["id"] and len(added) == 2    # the file and its preview
    assert (await world.client.delete(f"/api/v1/materials/{first['id']}", headers=teacher.headers)).status_code == 204
    assert world.blobs() - before == added
    assert (await world.get(teacher, "/download", second["id"])).content == photo
    assert (await world.client.delete(f"/api/v1/materials/{second['id']}", headers=teacher.headers)).status_code == 204
    assert world.blobs() == before
    assert (await world.get(teacher, material_id=second["id"])).status_code == 404


async def test_only_teachers_upload_and_only_the_owner_edits_or_deletes(world):
    teacher, other, student = await world.person("teacher"), await world.person("teacher"), await world.person("student")
    assert (await world.upload(student, pdf())).status_code == 403
    material = (await world.upload(teacher, pdf(), visibility="public")).json()
    url = f"/api/v1/materials/{material['id']}"
    assert (await world.client.patch(url, json={"title": "Mine"}, headers=other.headers)).status_code == 404
    assert (await world.client.delete(url, headers=other.headers)).status_code == 404
    edited = await world.client.patch(url, json={"title": "Проценты", "tags": ["Percent"], "grade_level": None},
                                      headers=teacher.headers)
    assert edited.status_code == 200
    assert (edited.json()["title"], edited.json()["tags"], edited.json()["grade_level"]) == ("Проценты", ["percent"], None)
    assert (await world.client.patch(url, json={}, headers=teacher.headers)).status_code == 422
    assert (await world.client.patch(url, json={"title": None}, headers=teacher.headers)).status_code == 422


async def test_a_deleted_teachers_materials_and_files_go_and_each_says_so(world):
    teacher, student, before = await world.person("teacher"), await world.person("student"), world.blobs()
    await world.link(teacher, student)
    material = (await world.upload(teacher, jpeg(tint=2), "photo.jpg", visibility="public")).json()
    await world.settled()
    assert (await world.client.post(f"/api/v1/materials/{material['id']}/studied",
                                    headers=student.headers)).status_code == 200
    updates = await world.events("material.updated")
    edited = await world.client.patch(f"/api/v1/materials/{material['id']}", json={"visibility": "students"},
                                      headers=teacher.headers)
    assert edited.status_code == 200 and await world.events("material.updated") == updates + 1

    deletions = await world.events("material.deleted")
    await world.app.state.runtime.bus.publish([make_event(UserDeleted(user_id=teacher.id), producer="user")])

    async def erased() -> bool:
        return await world.events("material.deleted") == deletions + 1
    await eventually(erased, timeout=15)
    await world.settled()
    assert (await world.get(student, material_id=material["id"])).status_code == 404
    assert world.blobs() == before


async def test_previews_left_pending_by_a_stop_are_made_at_the_next_start(world):
    teacher = await world.person("teacher")
    material = (await world.upload(teacher, jpeg(tint=3), "later.jpg")).json()
    await world.settled()
    async with world.app.state.session_factory() as session:   # as if the process stopped before the preview
        await session.execute(update(Material).where(Material.id == uuid.UUID(material["id"]))
                              .values(preview_status="pending", thumbnail_key=None))
        await session.commit()
    assert (await world.get(teacher, material_id=material["id"])).json()["has_preview"] is False

    await resume_previews(world.app.state.context, world.app.state.deps)
    await world.settled()
    assert (await world.get(teacher, material_id=material["id"])).json()["has_preview"] is True
