"""Registration, login, tokens, refresh rotation and logout against the real servers."""
import asyncio
import base64
import json
import uuid
from datetime import timedelta

import jwt

from services.user.keys import KeyMaterial, sign_access_token
from services.user.models import RefreshToken, User
from shared.events import utcnow
from tests.integration.user.conftest import PASSWORD

PROBLEM = "application/problem+json"


async def test_a_registered_user_logs_in_and_sees_themselves(service):
    registered = await service.register("teacher", email="  Maria.Teacher@Example.ORG ", full_name="Мария",
                                        timezone="Asia/Yekaterinburg", locale="en")
    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == "maria.teacher@example.org"
    tokens = await service.login("MARIA.teacher@example.org")
    assert tokens.status_code == 200
    assert tokens.json()["token_type"] == "bearer" and tokens.json()["expires_in"] == 900

    me = await service.client.get("/auth/me", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert me.status_code == 200
    assert me.json() | {"created_at": None} == {
        "id": registered.json()["id"], "email": "maria.teacher@example.org", "full_name": "Мария",
        "role": "teacher", "timezone": "Asia/Yekaterinburg", "locale": "en", "telegram_linked": False,
        "phone": None, "avatar_url": None, "created_at": None, "active": True}
    created = [e for e in await service.outbox("user.created") if e.payload["user_id"] == registered.json()["id"]]
    assert [e.payload["role"] for e in created] == ["teacher"]


async def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(service):
    user = await service.account()
    wrong = await service.login(user.email, "not the password")
    unknown = await service.login("nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["content-type"] == PROBLEM


def _part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_tokens_not_signed_by_the_service_for_its_audience_and_in_time_are_refused(service):
    user = await service.account()
    own_key = await service.app.state.deps.keyring.signing_key()
    stranger = KeyMaterial.generate("EdDSA")
    impostor = KeyMaterial(own_key.kid, "EdDSA", stranger.public_key, stranger.private_key)

    def signed(key, *, audience="repitbot-api", now=None):
        return sign_access_token(key, user_id=uuid.UUID(user.id), role="admin", issuer="repitbot",
                                 audience=audience, ttl=timedelta(minutes=15), now=now or utcnow()).token

    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    refused = {
        "another key": signed(stranger),
        "another key under our kid": signed(impostor),
        "expired": signed(own_key, now=utcnow() - timedelta(minutes=20)),
        "alg none": f"{_part({'alg': 'none', 'kid': own_key.kid})}.{_part(claims)}.",
        "wrong audience": signed(own_key, audience="another-api"),
        "garbage": "not.a.token",
        "kid not a string": f"{_part({'alg': 'EdDSA', 'kid': ['x']})}.{_part(claims)}.c2ln",
        "no kid": jwt.encode(claims, own_key.private_key, algorithm="EdDSA"),
    }
    for case, token in refused.items():
        response = await service.client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, case
        assert response.headers["content-type"] == PROBLEM, case
        assert response.headers["www-authenticate"].startswith("Bearer"), case
    assert (await service.client.get("/auth/me", headers=user.headers)).status_code == 200
    assert (await service.client.get("/auth/me")).status_code == 401


async def test_a_refresh_gives_a_new_pair_and_spends_the_old_token(service):
    user = await service.account()
    first = await service.client.post("/auth/refresh", json={"refresh_token": user.refresh_token})
    assert first.status_code == 200
    pair = first.json()
    assert pair["refresh_token"] != user.refresh_token and pair["access_token"] != user.access_token
    me = await service.client.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200
    second = await service.client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200


async def test_a_reused_refresh_token_is_refused_and_revokes_its_whole_family(service):
    user = await service.account()
    stolen = user.refresh_token
    newest = (await service.client.post("/auth/refresh", json={"refresh_token": stolen})).json()
    other_session = await service.login(user.email)

    reuse = await service.client.post("/auth/refresh", json={"refresh_token": stolen})
    assert reuse.status_code == 401
    assert reuse.headers["content-type"] == PROBLEM
    assert "revoked" in reuse.json()["detail"]

    assert (await service.client.post("/auth/refresh", json={"refresh_token": newest["refresh_token"]})
            ).status_code == 401
    newest_access = {"Authorization": f"Bearer {newest['access_token']}"}
    assert (await service.client.get("/auth/me", headers=newest_access)).status_code == 401
    family = await service.count(RefreshToken, RefreshToken.user_id == uuid.UUID(user.id),
                                 RefreshToken.revoked_at.is_not(None))
    assert family == 2
    # another session of the same user (another family) is untouched
    assert (await service.client.post("/auth/refresh", json={"refresh_token": other_session.json()["refresh_token"]})
            ).status_code == 200


async def test_refreshes_racing_with_one_token_give_one_pair_and_count_as_reuse(service):
    user = await service.account()
    results = await asyncio.gather(*(service.client.post("/auth/refresh", json={"refresh_token": user.refresh_token})
                                     for _ in range(4)))
    assert sorted(r.status_code for r in results) == [200, 401, 401, 401]
    winner = next(r.json() for r in results if r.status_code == 200)
    assert (await service.client.post("/auth/refresh", json={"refresh_token": winner["refresh_token"]})
            ).status_code == 401


async def test_an_unknown_refresh_token_is_refused(service):
    response = await service.client.post("/auth/refresh", json={"refresh_token": "made-up"})
    assert response.status_code == 401


async def test_after_logout_the_access_and_refresh_tokens_no_longer_work(service):
    user = await service.account()
    out = await service.client.post("/auth/logout", headers=user.headers)
    assert out.status_code == 204
    assert (await service.client.get("/auth/me", headers=user.headers)).status_code == 401
    assert (await service.client.post("/auth/refresh", json={"refresh_token": user.refresh_token})
            ).status_code == 401
    assert (await service.client.post("/auth/logout", headers=user.headers)).status_code == 401


async def test_logout_with_a_refresh_token_revokes_that_session(service):
    user = await service.account()
    refreshed = (await service.client.post("/auth/refresh", json={"refresh_token": user.refresh_token})).json()
    headers = {"Authorization": f"Bearer {refreshed['access_token']}"}
    out = await service.client.post("/auth/logout", headers=headers,
                                    json={"refresh_token": refreshed["refresh_token"]})
    assert out.status_code == 204
    assert (await service.client.post("/auth/refresh", json={"refresh_token": refreshed["refresh_token"]})
            ).status_code == 401


async def test_repeated_failed_logins_are_throttled_per_account_and_address_with_retry_after(start_user_service):
    async with start_user_service(login_max_failures_per_account_address=3) as service:
        user = await service.account()
        for _ in range(3):
            assert (await service.login(user.email, "wrong password!")).status_code == 401
        locked = await service.login(user.email)  # even the right password waits
        assert locked.status_code == 429
        assert locked.headers["content-type"] == PROBLEM
        assert 0 < int(locked.headers["retry-after"]) <= service.settings.login_window_seconds
        service.ip = "10.254.254.1"  # the owner on another address still gets in
        assert (await service.login(user.email)).status_code == 200


async def test_a_successful_login_clears_the_failures_of_the_account(start_user_service):
    async with start_user_service(login_max_failures_per_account_address=3) as service:
        user = await service.account()
        for _ in range(2):
            await service.login(user.email, "wrong password!")
        assert (await service.login(user.email)).status_code == 200
        for _ in range(2):
            await service.login(user.email, "wrong password!")
        assert (await service.login(user.email)).status_code == 200


async def test_many_failures_from_one_address_are_throttled_for_every_account(start_user_service):
    async with start_user_service(login_max_failures_per_ip=4) as service:
        user = await service.account()
        for i in range(4):
            await service.login(f"guess{i}-{uuid.uuid4().hex[:6]}@example.org", "wrong password!")
        blocked = await service.login(user.email)
        assert blocked.status_code == 429 and "address" in blocked.json()["detail"]
        service.ip = "10.254.254.2"
        assert (await service.login(user.email)).status_code == 200


async def test_the_users_table_holds_the_hash_not_the_password(service):
    user = await service.account()
    async with service.app.state.session_factory() as session:
        stored = await session.get(User, uuid.UUID(user.id))
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
