"""Admins and demo accounts made by commands; the service on SQLite, as in the embedded mode."""
import pytest

from services.user import seed
from services.user.app import create_app
from services.user.models import TeacherLink, User
from services.user.settings import UserSettings
from shared.errors import Conflict, Unprocessable
from tests.support import running


async def test_create_admin_is_idempotent_and_emits_user_created_once(service):
    make = dict(email="Root@Example.org", password="admin password 1", full_name="Root")
    first = await seed.create_admin(service.app.state.uow_factory, service.app.state.deps.passwords, **make)
    again = await seed.create_admin(service.app.state.uow_factory, service.app.state.deps.passwords, **make)
    assert first == again
    assert [e.payload["role"] for e in await service.outbox("user.created")
            if e.payload["user_id"] == str(first)] == ["admin"]
    tokens = await service.login("root@example.org", "admin password 1")
    assert tokens.status_code == 200
    me = await service.client.get("/auth/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert me.json()["role"] == "admin"


async def test_create_admin_refuses_an_email_taken_by_another_role_and_a_weak_password(service):
    user = await service.account("teacher")
    with pytest.raises(Conflict):
        await seed.create_admin(service.app.state.uow_factory, service.app.state.deps.passwords, email=user.email,
                                password="admin password 1", full_name="X")
    with pytest.raises(Unprocessable):
        await seed.create_admin(service.app.state.uow_factory, service.app.state.deps.passwords,
                                email="weak@example.org", password="123", full_name="X")


async def test_the_demo_data_is_made_once_with_both_students_linked_to_the_teacher(service):
    lines = await seed.seed_demo(service.app.state.uow_factory, service.app.state.deps.passwords)
    assert lines == await seed.seed_demo(service.app.state.uow_factory, service.app.state.deps.passwords)
    assert await service.count(User) == 4 and await service.count(TeacherLink) == 2
    assert len(await service.outbox("user.created")) == 4
    assert len(await service.outbox("user.teacher_linked")) == 2
    for line in lines:
        role, email, password = line.split()
        assert role in ("admin", "teacher", "student")
        assert (await service.login(email, password)).status_code == 200, line


async def test_the_service_runs_on_sqlite_with_its_migration(tmp_path):
    settings = UserSettings(var_dir=tmp_path, bot_token="bot", environment="test")
    async with running(create_app(settings)) as client:
        registered = await client.post("/auth/register", json={
            "email": "lite@example.org", "password": "correct horse battery", "full_name": "Lite", "role": "student"})
        assert registered.status_code == 201
        tokens = await client.post("/auth/login", json={"email": "lite@example.org",
                                                         "password": "correct horse battery"})
        refreshed = await client.post("/auth/refresh", json={"refresh_token": tokens.json()["refresh_token"]})
        assert refreshed.status_code == 200
        again = await client.post("/auth/refresh", json={"refresh_token": tokens.json()["refresh_token"]})
        assert again.status_code == 401
        assert len((await client.get("/.well-known/jwks.json")).json()["keys"]) == 1
    assert (tmp_path / "user.db").exists()
