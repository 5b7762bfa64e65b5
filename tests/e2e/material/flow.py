"""The flow both end-to-end tests of materials run through the gateway: a teacher uploads a JPEG
and a PDF made here, previews appear, a linked student finds them by a Russian word, downloads
them, marks one studied and earns XP and «Любознательный»; an unlinked student sees none of it."""
from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from PIL import Image

from tests.e2e.conftest import Account
from tests.material_files import jpeg, pdf
from tests.support import eventually

PHOTO, SHEET = jpeg(640, 480), pdf(600, 800, text="Drobi")


async def upload_both(client: httpx.AsyncClient, teacher: Account) -> dict[str, dict[str, Any]]:
    made = {}
    for name, data, title in (("доска.jpg", PHOTO, "Дроби на доске"), ("Дроби.pdf", SHEET, "Сложение дробей")):
        uploaded = await client.post("/api/v1/materials", headers=teacher.headers, files={"file": (name, data)},
                                     data={"title": title, "subject": "Maths", "grade_level": "5",
                                           "visibility": "students", "tags": "дроби"})
        assert uploaded.status_code == 201, uploaded.text
        made[name] = uploaded.json()
    return made


async def previews_shown(client: httpx.AsyncClient, teacher: Account, made: dict[str, dict[str, Any]]) -> None:
    """Both previews become ready, of the right size, and are served as WebP."""
    for name, size in (("доска.jpg", (320, 240)), ("Дроби.pdf", (240, 320))):
        url = f"/api/v1/materials/{made[name]['id']}"

        async def ready(url: str = url) -> dict | None:
            shown = (await client.get(url, headers=teacher.headers)).json()
            return shown if shown["has_preview"] else None
        shown = await eventually(ready, timeout=30)
        assert (shown["thumbnail_width"], shown["thumbnail_height"]) == size
        thumb = await client.get(f"{url}/thumbnail", headers=teacher.headers)
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(thumb.content)).size == size


async def student_finds_and_downloads(client: httpx.AsyncClient, student: Account,
                                      made: dict[str, dict[str, Any]]) -> None:
    found = await client.get("/api/v1/materials", params={"q": "дробь"}, headers=student.headers)
    assert found.status_code == 200, found.text
    assert {m["id"] for m in found.json()["items"]} == {m["id"] for m in made.values()}
    for name, data in (("доска.jpg", PHOTO), ("Дроби.pdf", SHEET)):
        url = f"/api/v1/materials/{made[name]['id']}/download"
        whole = await client.get(url, headers=student.headers)
        assert whole.status_code == 200 and whole.content == data
        assert "filename*=UTF-8''" in whole.headers["content-disposition"]
        part = await client.get(url, headers={**student.headers, "Range": "bytes=100-199"})
        assert (part.status_code, part.content) == (206, data[100:200])


async def studied_earns_curious(client: httpx.AsyncClient, student: Account, material_id: str,
                                settle: Callable[[], Awaitable[None]]) -> None:
    before = (await client.get(f"/api/v1/students/{student.id}/profile", headers=student.headers)).json()["xp"]
    url = f"/api/v1/materials/{material_id}/studied"
    first = await client.post(url, headers=student.headers)
    assert first.status_code == 200, first.text
    assert (await client.post(url, headers=student.headers)).json() == first.json()
    await settle()

    async def curious() -> bool:
        achievements = await client.get(f"/api/v1/students/{student.id}/achievements", headers=student.headers)
        return any(a["code"] == "curious" and a["earned_at"] for a in achievements.json()["items"])
    await eventually(curious, timeout=30)
    profile = (await client.get(f"/api/v1/students/{student.id}/profile", headers=student.headers)).json()
    assert profile["xp"] == before + 25 + 50      # studied once (25), «Любознательный» (50)


async def stranger_sees_nothing(client: httpx.AsyncClient, stranger: Account, made: dict[str, dict[str, Any]]) -> None:
    found = await client.get("/api/v1/materials", params={"q": "дробь"}, headers=stranger.headers)
    assert found.status_code == 200 and found.json()["items"] == []
    for material in made.values():
        for path in ("", "/download", "/thumbnail"):
            refused = await client.get(f"/api/v1/materials/{material['id']}{path}", headers=stranger.headers)
            assert refused.status_code == 404, (path, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
        studied = await client.post(f"/api/v1/materials/{material['id']}/studied", headers=stranger.headers)
        assert studied.status_code == 404


def fuzz_material_routes(base_url: str, headers: dict[str, str]) -> list[str]:
    """Schemathesis over every material operation of the gateway's document, as `headers`' user:
    the failures (a 5xx, or an answer the document does not declare), none when all is well."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error

    document = httpx.get(base_url + "/openapi.json", timeout=30, trust_env=False).json()
    document["servers"] = [{"url": base_url}]
    schema = schemathesis.openapi.from_dict(document).include(path_regex="^/api/v1/materials")
    failures = []
    for operation in (result.ok() for result in schema.get_all_operations()):
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True, phases=[Phase.explicit, Phase.generate])
        def run(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=[not_a_server_error], timeout=30)
        try:
            run()
        except Exception as exc:  # collect them all: one report of every operation that fails
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    return failures
