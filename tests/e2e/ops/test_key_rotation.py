"""`repitbot keys rotate` while clients hold tokens, in mesh mode (every process verifies through
the user service's JWKS): no token gets a 401 before it expires, new tokens carry the new key."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import jwt

from tests.e2e.conftest import register_and_login
from tests.mesh import Mesh
from tests.support import eventually


async def test_rotating_keys_refuses_no_token_before_it_expires(servers):
    env = {"SIGNING_KEY_CACHE_SECONDS": "1", "AUTH_RATE_LIMIT_PER_MINUTE": "1000", "RATE_LIMIT_PER_MINUTE": "10000"}
    with Mesh(servers, env=env) as mesh:
        user = mesh.start_services("user", "lesson")[0]
        gateway = mesh.start_gateway()
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30, trust_env=False) as client:
            teacher = await register_and_login(client, "teacher")
            old_kid = _kid(teacher.headers)
            statuses: list[int] = []
            stop = asyncio.Event()

            async def hold_the_old_token() -> None:
                while not stop.is_set():
                    for path in ("/api/v1/lessons", "/auth/me"):
                        statuses.append((await client.get(path, headers=teacher.headers)).status_code)

            holder = asyncio.create_task(hold_the_old_token())
            await eventually(lambda: len(statuses) >= 4, timeout=60)
            rotated = await _cli(servers, user, "keys", "rotate")

            async def new_key_signs() -> dict[str, str] | None:
                fresh = (await client.post("/auth/login", json={"email": teacher.email,
                                                                 "password": "correct horse battery staple"})).json()
                headers = {"Authorization": f"Bearer {fresh['access_token']}"}
                return headers if _kid(headers) != old_kid else None
            new_headers = await eventually(new_key_signs, timeout=60, interval=0.3)
            new_answers = [(await client.get(path, headers=new_headers)).status_code
                           for path in ("/api/v1/lessons", "/auth/me")]
            before_stop = len(statuses)
            await eventually(lambda: len(statuses) >= before_stop + 4, timeout=60)   # old tokens after it
            stop.set()
            await holder
            listing = await _cli(servers, user, "keys", "list")
            jwks = httpx.get(user.url + "/.well-known/jwks.json", trust_env=False).json()
    new_kid = _kid(new_headers)
    assert rotated.startswith(f"new signing key {new_kid}")
    assert new_answers == [200, 200]
    assert set(statuses) == {200}
    assert {key["kid"] for key in jwks["keys"]} == {old_kid, new_kid}
    lines = {line.split()[0]: line for line in listing.strip().splitlines()}
    assert lines[new_kid].endswith("signing") and "published until" in lines[old_kid]


def _kid(headers: dict[str, str]) -> str:
    return jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"]


async def _cli(servers, user, *args: str) -> str:
    env = {**os.environ, **servers.env(), "REPITBOT_MODE": "mesh", "LOG_JSON": "false",
           "DATABASE_URL": user.env["DATABASE_URL"]}
    result = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "repitbot.cli", *args], env=env,
                                     capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout
