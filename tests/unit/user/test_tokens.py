"""Signing and verifying access tokens: the edge cases a verifier must refuse."""
import base64
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from jwt import PyJWK

from services.user.keys import KeyConfigurationError, KeyMaterial, sign_access_token, thumbprint
from shared.auth import TokenVerifier
from shared.errors import Unauthorized
from shared.events import utcnow

ISSUER, AUDIENCE = "repitbot", "repitbot-api"


class Published:
    """A key source that publishes the given keys."""

    def __init__(self, *materials: KeyMaterial) -> None:
        self._keys = {m.kid: PyJWK.from_dict(m.public_jwk()) for m in materials}

    async def key(self, kid: str):
        return self._keys.get(kid)


def _sign(key: KeyMaterial, *, ttl=timedelta(minutes=15), now=None, audience=AUDIENCE):
    return sign_access_token(key, user_id=uuid.uuid4(), role="student", issuer=ISSUER, audience=audience,
                             ttl=ttl, now=now or utcnow())


def _verifier(*published: KeyMaterial) -> TokenVerifier:
    return TokenVerifier(Published(*published), issuer=ISSUER, audience=AUDIENCE)


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
async def test_a_signed_token_carries_the_claims_and_verifies(algorithm):
    key = KeyMaterial.generate(algorithm)
    access = _sign(key)
    principal = await _verifier(key).verify(access.token)
    header = jwt.get_unverified_header(access.token)
    claims = jwt.decode(access.token, options={"verify_signature": False})
    assert header == {"alg": algorithm, "kid": key.kid, "typ": "JWT"}
    assert set(claims) == {"sub", "role", "iss", "aud", "iat", "exp", "jti"}
    assert principal.jti == access.jti and principal.role == "student"
    assert access.expires_in == 900


async def test_a_token_signed_with_another_key_under_a_published_kid_is_refused():
    published, other = KeyMaterial.generate("EdDSA"), KeyMaterial.generate("EdDSA")
    forged = KeyMaterial(published.kid, "EdDSA", other.public_key, other.private_key)
    with pytest.raises(Unauthorized, match="Invalid token"):
        await _verifier(published).verify(_sign(forged).token)


async def test_a_token_with_an_unknown_kid_is_refused():
    with pytest.raises(Unauthorized, match="Unknown signing key"):
        await _verifier(KeyMaterial.generate("EdDSA")).verify(_sign(KeyMaterial.generate("EdDSA")).token)


async def test_an_expired_token_is_refused():
    key = KeyMaterial.generate("EdDSA")
    expired = _sign(key, ttl=timedelta(minutes=15), now=utcnow() - timedelta(minutes=16))
    with pytest.raises(Unauthorized, match="expired"):
        await _verifier(key).verify(expired.token)


async def test_a_token_for_another_audience_is_refused():
    key = KeyMaterial.generate("EdDSA")
    with pytest.raises(Unauthorized, match=r"(?i)audience"):
        await _verifier(key).verify(_sign(key, audience="someone-else").token)


async def test_an_unsigned_token_with_alg_none_is_refused():
    key = KeyMaterial.generate("EdDSA")
    claims = jwt.decode(_sign(key).token, options={"verify_signature": False})

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    unsigned = f"{part({'alg': 'none', 'kid': key.kid, 'typ': 'JWT'})}.{part(claims)}."
    with pytest.raises(Unauthorized, match="algorithm"):
        await _verifier(key).verify(unsigned)


async def test_a_token_signed_with_hmac_using_the_public_key_is_refused():
    key = KeyMaterial.generate("RS256")
    claims = {"sub": str(uuid.uuid4()), "role": "admin", "iss": ISSUER, "aud": AUDIENCE,
              "iat": int(time.time()), "exp": int(time.time()) + 60, "jti": "x"}
    forged = jwt.encode(claims, "a shared secret long enough for hs256!!", algorithm="HS256", headers={"kid": key.kid})
    with pytest.raises(Unauthorized):
        await _verifier(key).verify(forged)


def test_the_key_id_is_the_rfc7638_thumbprint():
    # the example of RFC 8037, appendix A.3
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_configured_pem_key_gives_the_same_kid_every_time():
    key = KeyMaterial.generate("EdDSA")
    pem = key.to_row(keep_private=True).private_pem
    assert KeyMaterial.from_private_pem(pem).kid == key.kid


def test_a_configured_key_of_the_other_algorithm_is_refused_at_start():
    pem = KeyMaterial.generate("RS256").to_row(keep_private=True).private_pem
    with pytest.raises(KeyConfigurationError, match="JWT_ALGORITHM is EdDSA"):
        KeyMaterial.from_private_pem(pem, expected_algorithm="EdDSA")


def test_a_configured_key_that_is_not_pem_is_refused_at_start():
    with pytest.raises(KeyConfigurationError, match="not a readable PEM"):
        KeyMaterial.from_private_pem("not a key")
