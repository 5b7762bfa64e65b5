"""Item 3: X-Forwarded-For from a peer that is not a configured proxy changes nothing."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.mesh import Mesh


@pytest.fixture(scope="module")
def own_mesh(servers):
    with Mesh(servers) as mesh:
        mesh.start_services("user")
        mesh.start_gateway(env={"AUTH_RATE_LIMIT_PER_MINUTE": "5"})
        yield mesh


@pytest.fixture
def mesh(own_mesh):
    """The module's mesh with nothing counted, as if new: each test spends the limits itself."""
    own_mesh.forget_counted_requests()
    yield own_mesh
    # The failed logins locked this host's address for the session's later mesh tests: unlock it.
    own_mesh.forget_counted_requests()


async def test_a_forged_forwarded_for_does_not_escape_the_per_address_limit(mesh):
    async with httpx.AsyncClient(base_url=mesh.gateways[0].url, timeout=10) as client:
        statuses = []
        for i in range(7):
            answer = await client.post("/auth/login", headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
                                       json={"email": f"x-{uuid.uuid4().hex[:6]}@example.org", "password": "p"})
            statuses.append(answer.status_code)
    # other tests of the session may have spent some of this address's budget, never more
    assert 429 in statuses and statuses[-1] == 429, statuses


async def test_a_service_ignores_forwarded_for_from_loopback_by_default(mesh):
    user = mesh.instances["user"][0]
    async with httpx.AsyncClient(base_url=user.url, timeout=10) as client:
        statuses = []
        for i in range(32):
            answer = await client.post("/auth/login", headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
                                       json={"email": f"y{i}-{uuid.uuid4().hex[:6]}@example.org", "password": "p"})
            statuses.append(answer.status_code)
    assert statuses[-1] == 429 and "your address" in answer.json()["detail"], statuses
