"""Property-based requests, generated from the merged OpenAPI document, sent through the gateway
to the real services in mesh mode: whatever the input, no answer is a 5xx."""
from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from shared.settings import SERVICE_NAMES
from tests.mesh import Mesh
from tests.support import TestKeys

ROOT = Path(__file__).resolve().parents[3]
KEYS = TestKeys()
BUILT = [name for name in SERVICE_NAMES if (ROOT / "services" / name / "app.py").exists()]


@pytest.fixture(scope="module")
def platform(servers, request):
    failed_before = request.session.testsfailed
    mesh = Mesh(servers, keys=KEYS)
    try:
        mesh.start_services(*BUILT)
        gateway = mesh.start_gateway(env={"RATE_LIMIT_PER_MINUTE": "100000",
                                          "AUTH_RATE_LIMIT_PER_MINUTE": "100000"})
        yield mesh, gateway
    finally:
        if request.session.testsfailed > failed_before:
            mesh.dump_logs()
        mesh.close()


ADMIN = {"Authorization": f"Bearer {KEYS.token(uuid.uuid4(), 'admin', ttl=3600)}"}


def test_no_generated_request_makes_the_platform_answer_5xx(platform):
    _, gateway = platform
    document = httpx.get(gateway.url + "/openapi.json", timeout=30, trust_env=False).json()
    assert not set(document["info"].get("x-unavailable-services", [])) & set(BUILT), document["info"]
    document["servers"] = [{"url": gateway.url}]
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        try:
            _examples_of(operation, gateway.url)()
        except Exception as exc:  # collect them all: one report of every operation that fails
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert len(operations) > 10
    assert not failures, "\n\n".join(failures)


def _examples_of(operation, base_url):
    # schemathesis' pytest plugin does not run on this pytest; hypothesis drives it directly
    @given(case=operation.as_strategy())
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True, phases=[Phase.explicit, Phase.generate])
    def run(case):
        case.call_and_validate(base_url=base_url, headers=ADMIN, checks=[not_a_server_error], timeout=30)
    return run
