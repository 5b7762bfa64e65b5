"""Gateways and stand-in upstreams as real processes in mesh mode, shared by a test module."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.mesh import Mesh, Process
from tests.support import TestKeys

STAND_IN = "tests.upstream_app:create_app"


@dataclass
class GatewayMesh:
    mesh: Mesh
    keys: TestKeys
    gateway: Process
    second_gateway: Process


@pytest.fixture(scope="module")
def gateway_mesh(servers, request) -> Iterator[GatewayMesh]:
    """Two gateways (default rate limit; a 15 s breaker recovery, room for a slow restart) in front of stand-in upstreams:
    dictionary (1 instance), material (1), notification (2), homework (1)."""
    keys = TestKeys()
    failed_before = request.session.testsfailed
    mesh = Mesh(servers, keys=keys)
    try:
        for name, count in {"dictionary": 1, "material": 1, "notification": 2, "homework": 1}.items():
            mesh.start_app(name, STAND_IN, instances=count)
        env = {"CIRCUIT_BREAKER_RECOVERY_TIMEOUT": "15", "UPSTREAM_EJECTION_SECONDS": "5",
               "HEALTH_TIMEOUT": "0.5"}
        first, second = mesh.start_gateway(env=env), mesh.start_gateway(env=env)
        yield GatewayMesh(mesh, keys, first, second)
    finally:
        if request.session.testsfailed > failed_before:
            mesh.dump_logs()
        mesh.close()
