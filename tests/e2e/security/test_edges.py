"""Items 4 and 8: uploads are refused before their body is read and cut off at the limit;
responses carry the security headers and /docs needs nothing from another site."""
from __future__ import annotations

import re

from tests.e2e.conftest import register_and_login

MB = 1024 * 1024


class Body:
    """A chunked multipart body of `size` bytes that counts how much of it was read."""

    def __init__(self, size: int) -> None:
        self.size, self.sent = size, 0

    async def __aiter__(self):
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n' \
              b'Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n'
        while self.sent < self.size:
            self.sent += 256 * 1024
            yield b"\0" * (256 * 1024)
        yield b"\r\n--b--\r\n"


HEADERS = {"content-type": "multipart/form-data; boundary=b"}


async def test_an_upload_to_another_users_avatar_is_refused_before_its_body_is_read(embedded):
    owner = await register_and_login(embedded, "student")
    other = await register_and_login(embedded, "student")
    body = Body(100 * MB)
    refused = await embedded.put(f"/api/v1/users/{other.id}/avatar", content=body,
                                 headers={**owner.headers, **HEADERS})
    assert refused.status_code in (403, 404), refused.text
    assert body.sent < 2 * MB, body.sent


async def test_a_chunked_upload_is_cut_off_at_the_limit(embedded):
    owner = await register_and_login(embedded, "student")
    body = Body(300 * MB)
    refused = await embedded.put(f"/api/v1/users/{owner.id}/avatar", content=body,
                                 headers={**owner.headers, **HEADERS})
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert body.sent < 8 * MB, body.sent


async def test_an_avatar_within_the_limit_is_still_stored(embedded):
    owner = await register_and_login(embedded, "student")
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
           b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
    stored = await embedded.put(f"/api/v1/users/{owner.id}/avatar", files={"file": ("a.png", png, "image/png")},
                                headers=owner.headers)
    assert stored.status_code == 200, stored.text
    assert stored.json()["avatar_url"]


async def test_responses_with_tokens_are_not_stored_and_all_carry_the_headers(embedded):
    account = await register_and_login(embedded, "student")
    login = await embedded.post("/auth/login", json={"email": account.email,
                                                     "password": "correct horse battery staple"})
    refreshed = await embedded.post("/auth/refresh", json={"refresh_token": login.json()["refresh_token"]})
    for response in (login, refreshed):
        assert response.headers["cache-control"] == "no-store"
    for response in (login, refreshed, await embedded.get("/health"), await embedded.get("/nowhere")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_docs_are_served_from_the_platform_with_a_content_security_policy(embedded):
    docs = await embedded.get("/docs")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        answer = await embedded.get(asset)
        assert answer.status_code == 200, asset
    assert "cdn" not in docs.text


async def test_a_service_serves_its_own_docs_the_same_way(embedded):
    import httpx
    lesson = embedded.app.state.service_apps["lesson"]  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(lesson), base_url="http://lesson") as client:
        docs = await client.get("/docs")
        assert docs.status_code == 200 and "script-src 'self'" in docs.headers["content-security-policy"]
        assert (await client.get("/docs/assets/swagger-ui-bundle.js")).status_code == 200
