"""Argon2 parameters that change, and a hashing pool that is full, against the real servers."""
import asyncio
import uuid

from argon2 import extract_parameters

from services.user.models import User
from tests.hashing import pool_held
from tests.integration.user.conftest import UserService
from tests.support import eventually

PROBLEM = "application/problem+json"


async def _stored_hash(service: UserService, user_id: str) -> str:
    async with service.app.state.session_factory() as session:
        return (await session.get(User, uuid.UUID(user_id))).password_hash


def _parameters(password_hash: str) -> tuple[int, int, int]:
    found = extract_parameters(password_hash)
    return found.memory_cost, found.time_cost, found.parallelism


async def test_a_login_after_a_parameter_change_rehashes_the_password_with_the_new_parameters(
        start_user_service, fresh_database):
    database_url = fresh_database("user_")
    old = dict(password_hash_memory_kib=256, password_hash_time_cost=1)
    new = dict(password_hash_memory_kib=512, password_hash_time_cost=2)
    async with start_user_service(database_url, **old) as service:
        user = await service.account()
        assert _parameters(await _stored_hash(service, user.id)) == (256, 1, 1)
    async with start_user_service(database_url, **new) as service:
        assert (await service.login(user.email, "not the password")).status_code == 401
        assert _parameters(await _stored_hash(service, user.id)) == (256, 1, 1)   # no rehash without the password
        assert (await service.login(user.email)).status_code == 200
        rehashed = await _stored_hash(service, user.id)
        assert _parameters(rehashed) == (512, 2, 1)
        assert (await service.login(user.email)).status_code == 200
        assert await _stored_hash(service, user.id) == rehashed                  # the same parameters: kept


async def test_logins_and_registrations_beyond_the_hashing_queue_get_503_with_retry_after(start_user_service):
    async with start_user_service(password_hash_concurrency=1, password_hash_max_waiting=1) as service:
        user = await service.account()
        pool = service.app.state.deps.passwords.pool
        async with pool_held(pool):
            queued = asyncio.create_task(service.login(user.email))
            await eventually(lambda: pool.waiting == 1)
            refused = [await service.login(user.email), await service.login("nobody@example.org", "x" * 12),
                       await service.register("teacher")]
            assert pool.waiting == 1
        for response in refused:
            assert response.status_code == 503 and response.headers["content-type"] == PROBLEM
            assert int(response.headers["retry-after"]) >= 1
        assert (await queued).status_code == 200
        assert (await service.login(user.email)).status_code == 200                 # room again
        assert (await service.register("teacher")).status_code == 201
    assert pool._executor is None                                                  # its threads went at exit
