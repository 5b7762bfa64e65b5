"""Signing keys kept in the service's database: JWKS, rotation, several instances, a configured key."""
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from services.user import service as user_service
from services.user.keys import KeyConfigurationError
from services.user.models import SigningKey
from shared.errors import Conflict


def _kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


async def _rotate(service) -> str:
    return await user_service.rotate_signing_key(service.app.state.uow_factory(), service.app.state.deps.tokens,
                                                 algorithm=service.settings.jwt_algorithm)


async def test_the_jwks_publishes_the_key_that_signs(service):
    user = await service.account()
    jwks = await service.client.get("/.well-known/jwks.json")
    assert jwks.status_code == 200
    [key] = jwks.json()["keys"]
    assert key["kid"] == _kid(user.access_token)
    assert key | {"x": None} == {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                                 "kid": key["kid"], "x": None}
    assert "d" not in key
    verified = jwt.decode(user.access_token, jwt.PyJWK.from_dict(key).key, algorithms=["EdDSA"],
                          audience="repitbot-api", issuer="repitbot")
    assert verified["sub"] == user.id and verified["role"] == "student"


async def test_a_token_signed_before_a_rotation_still_verifies_and_both_keys_are_published(service):
    before = await service.account()
    new_kid = await _rotate(service)
    assert new_kid != _kid(before.access_token)

    assert (await service.client.get("/auth/me", headers=before.headers)).status_code == 200
    published = {k["kid"] for k in (await service.client.get("/.well-known/jwks.json")).json()["keys"]}
    assert published == {_kid(before.access_token), new_kid}
    after = await service.login(before.email)
    assert _kid(after.json()["access_token"]) == new_kid
    async with service.app.state.session_factory() as session:
        old = await session.get(SigningKey, _kid(before.access_token))
    assert old.retired_at is not None  # published until then: the last token it signed expires first


async def test_instances_on_one_database_share_the_signing_key(service, start_user_service):
    user = await service.account()
    async with start_user_service(database_url=service.settings.database_url) as second:
        assert (await second.client.get("/auth/me", headers=user.headers)).status_code == 200
        from_second = await second.login(user.email)
        assert _kid(from_second.json()["access_token"]) == _kid(user.access_token)
        assert (await service.client.get(
            "/auth/me", headers={"Authorization": f"Bearer {from_second.json()['access_token']}"})).status_code == 200
        async with second.app.state.session_factory() as session:
            active = (await session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))).all()
        assert len(active) == 1


async def test_a_rotation_by_one_instance_is_seen_by_another(service, start_user_service):
    async with start_user_service(database_url=service.settings.database_url) as second:
        user = await second.account()
        new_kid = await _rotate(service)
        fresh = await service.login(user.email)
        assert _kid(fresh.json()["access_token"]) == new_kid
        # the second instance meets an unknown kid and reloads the keys at once
        assert (await second.client.get(
            "/auth/me", headers={"Authorization": f"Bearer {fresh.json()['access_token']}"})).status_code == 200


async def test_a_configured_rsa_key_signs_and_is_published(start_user_service):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    async with start_user_service(jwt_algorithm="RS256", jwt_private_key=pem) as service:
        user = await service.account()
        assert jwt.get_unverified_header(user.access_token)["alg"] == "RS256"
        [key] = (await service.client.get("/.well-known/jwks.json")).json()["keys"]
        assert key["kty"] == "RSA" and key["kid"] == _kid(user.access_token)
        assert (await service.client.get("/auth/me", headers=user.headers)).status_code == 200
        async with service.app.state.session_factory() as session:
            stored = await session.get(SigningKey, key["kid"])
        assert stored.private_pem is None  # the configured secret is not copied into the database
        with pytest.raises(Conflict):
            await _rotate(service)


async def test_a_configured_key_for_the_other_algorithm_stops_the_start(start_user_service):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    with pytest.raises(KeyConfigurationError, match="JWT_ALGORITHM is EdDSA"):
        async with start_user_service(jwt_private_key=pem):
            pass
