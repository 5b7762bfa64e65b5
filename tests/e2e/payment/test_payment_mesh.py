"""The same payment flow in mesh mode: user, lesson, payment, student and notification services
and a gateway as processes on the real PostgreSQL, RabbitMQ and Redis; YooKassa faked on loopback."""
from __future__ import annotations

import httpx

from tests.e2e.payment.flow import polling, the_flow
from tests.mesh import Mesh
from tests.payment_fakes import SHOP_ID, SHOP_SECRET, fake_yookassa


async def test_a_parent_tops_up_through_yookassa_in_mesh_mode(servers):
    with fake_yookassa() as yookassa, Mesh(servers) as mesh:
        mesh.start_services("user", "lesson", "payment", "student", "notification", env={
            "YOOKASSA_SHOP_ID": SHOP_ID, "YOOKASSA_SECRET_KEY": SHOP_SECRET, "YOOKASSA_API_URL": yookassa.api_url})
        gateway = mesh.start_gateway(env={"RATE_LIMIT_PER_MINUTE": "1000"})
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30.0, trust_env=False) as client:
            await the_flow(client, yookassa, polling(timeout=30))
