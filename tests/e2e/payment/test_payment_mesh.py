"""The same payment flow in mesh mode, on the shared mesh: the services and a gateway as processes
on the real PostgreSQL, RabbitMQ and Redis; YooKassa faked on loopback."""
from __future__ import annotations

from tests.e2e.payment.flow import polling, the_flow


async def test_a_parent_tops_up_through_yookassa_in_mesh_mode(shared_mesh):
    async with shared_mesh.client() as client:
        await the_flow(client, shared_mesh.yookassa, polling(timeout=30))
