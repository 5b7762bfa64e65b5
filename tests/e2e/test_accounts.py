"""A person registers, logs in and sees who they are, through the gateway, in both run modes."""
import uuid

import httpx

from shared.events import UserCreated
from tests.e2e.conftest import register_and_login
from tests.support import tapped

PASSWORD = "correct horse battery staple"


async def _register_login_me(client: httpx.AsyncClient) -> None:
    email = f"maria-{uuid.uuid4().hex[:6]}@example.org"
    registered = await client.post("/auth/register", json={
        "email": email, "password": PASSWORD, "full_name": "Мария Иванова", "role": "student",
        "timezone": "Asia/Vladivostok"})
    assert registered.status_code == 201, registered.text
    tokens = await client.post("/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "bearer"
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json() | {"id": None} == me.json() | {
        "id": None, "email": email, "full_name": "Мария Иванова", "role": "student",
        "timezone": "Asia/Vladivostok", "telegram_linked": False}
    assert me.json()["id"] == registered.json()["id"]


async def test_register_login_and_me_through_the_gateway_in_embedded_mode(embedded):
    await _register_login_me(embedded)


async def test_bad_input_gets_problem_details_from_the_gateway_in_embedded_mode(embedded):
    headers = {"content-type": "application/json", "x-correlation-id": "bad-input-1"}
    broken = await embedded.post("/auth/register", content=b'{"email": ', headers=headers)
    assert broken.status_code == 400
    assert broken.headers["content-type"] == "application/problem+json"
    assert broken.json()["correlation_id"] == "bad-input-1"
    assert broken.headers["x-correlation-id"] == "bad-input-1"

    huge = await embedded.post("/auth/register", content=b'{"a": "' + b"x" * 10_000_000 + b'"}', headers=headers)
    assert huge.status_code == 413 and huge.json()["status"] == 413

    account = await register_and_login(embedded, "teacher")
    again = await embedded.post("/auth/register", json={
        "email": account.email, "password": PASSWORD, "full_name": "Twin", "role": "teacher"})
    assert again.status_code == 409

    nobody = await embedded.get("/auth/me")
    assert nobody.status_code == 401 and "bearer" in nobody.headers["www-authenticate"].lower()


async def test_register_login_and_me_through_the_gateway_in_mesh_mode(shared_mesh):
    async with shared_mesh.client(timeout=10) as client:
        await _register_login_me(client)


async def test_user_created_reaches_a_consumer_on_rabbitmq_with_the_request_correlation_id(shared_mesh):
    correlation_id = f"signup-{uuid.uuid4().hex}"
    email = f"ivan-{uuid.uuid4().hex[:6]}@example.org"
    async with tapped(shared_mesh.servers.rabbitmq_url, "user.created") as tap:
        async with shared_mesh.client(timeout=10) as client:
            response = await client.post("/auth/register", headers={"X-Correlation-ID": correlation_id}, json={
                "email": email, "password": PASSWORD, "full_name": "Иван", "role": "teacher"})
        assert response.status_code == 201
        assert response.headers["x-correlation-id"] == correlation_id
        [event] = await tap.wait_for("user.created", email=email)
        message = tap.message(event)
    assert event.correlation_id == correlation_id
    assert message.correlation_id == correlation_id
    assert event.producer == "user"
    assert event.payload_as(UserCreated).user_id == uuid.UUID(response.json()["id"])
