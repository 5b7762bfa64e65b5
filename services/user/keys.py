"""Signing keys: generation, storage in the service's database, rotation, JWKS, access tokens.

Exactly one stored key has no `retired_at`: it signs. Rotating gives the old key a
`retired_at` in the future (when the last token it signed has expired), so it stays
published in the JWKS until then. A key given in JWT_PRIVATE_KEY signs instead of a stored
one; only its public half is stored, so that it is published like the others.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt import PyJWK
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
from sqlalchemy import or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.user.models import SigningKey
from shared.errors import ServiceUnavailable
from shared.events import utcnow

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


class KeyConfigurationError(RuntimeError):
    """JWT_PRIVATE_KEY cannot be used as configured."""


@dataclass(frozen=True)
class KeyMaterial:
    kid: str
    algorithm: str
    public_key: PublicKey
    private_key: PrivateKey | None = None

    @classmethod
    def generate(cls, algorithm: str) -> KeyMaterial:
        private: PrivateKey = (ed25519.Ed25519PrivateKey.generate() if algorithm == "EdDSA"
                               else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return cls.from_private_key(private)

    @classmethod
    def from_private_key(cls, private: PrivateKey) -> KeyMaterial:
        algorithm = algorithm_of(private)
        public = private.public_key()
        return cls(thumbprint(_jwk(public, algorithm)), algorithm, public, private)

    @classmethod
    def from_private_pem(cls, pem: str, *, expected_algorithm: str | None = None) -> KeyMaterial:
        # the one-line form (`\n` between the lines), when it reached us without a .env parser
        pem = pem.replace("\\n", "\n")
        try:
            private = serialization.load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyConfigurationError(f"JWT_PRIVATE_KEY is not a readable PEM private key: {exc}") from exc
        if not isinstance(private, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
            raise KeyConfigurationError("JWT_PRIVATE_KEY must be an Ed25519 or an RSA private key")
        material = cls.from_private_key(private)
        if expected_algorithm and material.algorithm != expected_algorithm:
            raise KeyConfigurationError(
                f"JWT_PRIVATE_KEY is a key for {material.algorithm} but JWT_ALGORITHM is {expected_algorithm}")
        return material

    @classmethod
    def from_row(cls, row: SigningKey) -> KeyMaterial:
        public = serialization.load_pem_public_key(row.public_pem.encode())
        private = (serialization.load_pem_private_key(row.private_pem.encode(), password=None)
                   if row.private_pem else None)
        return cls(row.kid, row.algorithm, public, private)  # type: ignore[arg-type]

    def private_pem(self) -> str:
        if self.private_key is None:
            raise KeyConfigurationError("this key has no private half")
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()

    def public_jwk(self) -> dict[str, Any]:
        return {**_jwk(self.public_key, self.algorithm), "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def to_row(self, *, keep_private: bool) -> SigningKey:
        public_pem = self.public_key.public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        private_pem = self.private_pem() if keep_private and self.private_key is not None else None
        return SigningKey(kid=self.kid, algorithm=self.algorithm, public_pem=public_pem.decode(),
                          private_pem=private_pem, created_at=utcnow())


def algorithm_of(key: PrivateKey | PublicKey) -> str:
    return "EdDSA" if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)) else "RS256"


def _jwk(public: PublicKey, algorithm: str) -> dict[str, Any]:
    return (OKPAlgorithm if algorithm == "EdDSA" else RSAAlgorithm).to_jwk(public, as_dict=True)


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of a public JWK: a stable key ID."""
    members = ("crv", "kty", "x") if jwk["kty"] == "OKP" else ("e", "kty", "n")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")


# --- access tokens --------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessToken:
    token: str
    jti: str
    expires_at: datetime
    expires_in: int


def sign_access_token(key: KeyMaterial, *, user_id: uuid.UUID, role: str, issuer: str, audience: str,
                      ttl: timedelta, now: datetime) -> AccessToken:
    if key.private_key is None:
        raise ServiceUnavailable("The signing key has no private half")
    jti = uuid.uuid4().hex
    expires_at = now + ttl
    claims = {"sub": str(user_id), "role": role, "iss": issuer, "aud": audience,
              "iat": int(now.timestamp()), "exp": int(expires_at.timestamp()), "jti": jti}
    token = jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})
    return AccessToken(token, jti, expires_at, int(ttl.total_seconds()))


# --- storage ----------------------------------------------------------------------------------
async def lock_keys(session: AsyncSession) -> None:
    """Serialise key changes between instances (SQLite serialises writers by itself)."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE"))


async def ensure_signing_key(session: AsyncSession, *, configured: KeyMaterial | None, algorithm: str,
                             retire_at: datetime) -> str:
    """Make sure exactly one key signs (the configured one, else a stored one); return its kid."""
    await lock_keys(session)
    active = list((await session.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc()))).all())
    if configured is not None:
        keep = configured.kid
        row = await session.get(SigningKey, keep)
        if row is None:
            session.add(configured.to_row(keep_private=False))
        else:
            row.retired_at = None
    else:
        usable = [row for row in active if row.private_pem]
        if usable:
            keep = usable[0].kid
        else:
            new = KeyMaterial.generate(algorithm)
            session.add(new.to_row(keep_private=True))
            keep = new.kid
    for row in active:
        if row.kid != keep:
            row.retired_at = retire_at
    return keep


async def rotate_key(session: AsyncSession, *, algorithm: str, retire_at: datetime) -> str:
    """A new signing key; the keys that signed until now are published until `retire_at`."""
    await lock_keys(session)
    new = KeyMaterial.generate(algorithm)
    await session.execute(update(SigningKey).where(SigningKey.retired_at.is_(None))
                          .values(retired_at=retire_at))
    session.add(new.to_row(keep_private=True))
    return new.kid


async def publish_key(session: AsyncSession, material: KeyMaterial) -> None:
    """Publish a key's public half ahead of its use (it will come from JWT_PRIVATE_KEY)."""
    await lock_keys(session)
    if await session.get(SigningKey, material.kid) is None:
        session.add(material.to_row(keep_private=False))


async def stored_keys(session: AsyncSession) -> list[SigningKey]:
    return list((await session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc()))).all())


def one_line_env(pem: str) -> str:
    """`JWT_PRIVATE_KEY="..."` with the PEM's line breaks as `\n`, as `.env` takes it."""
    return 'JWT_PRIVATE_KEY="' + pem.strip().replace("\n", "\\n") + '\\n"'


@dataclass(frozen=True)
class _Published:
    jwk: dict[str, Any]
    key: PyJWK
    retired_at: datetime | None

    def live(self, now: datetime) -> bool:
        return self.retired_at is None or self.retired_at > now


class Keyring:
    """This instance's view of the stored keys: the key that signs, the published public keys.

    It is the user service's key source for verifying tokens (no HTTP to itself). It reloads
    after `cache_seconds`, and looks up a kid it does not know at once, so that a key made by
    another instance's rotation verifies at every instance from the start.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *,
                 configured: KeyMaterial | None = None, cache_seconds: float = 30.0) -> None:
        self._session_factory = session_factory
        self._configured = configured
        self._cache_seconds = cache_seconds
        self._published: dict[str, _Published] = {}
        self._materials: dict[str, KeyMaterial] = {}
        self._signer: KeyMaterial | None = None
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def configured_key(self) -> KeyMaterial | None:
        """The key from JWT_PRIVATE_KEY, which signs instead of a stored one, if any."""
        return self._configured

    def forget(self) -> None:
        self._loaded_at = float("-inf")

    async def key(self, kid: str) -> PyJWK | None:
        if not isinstance(kid, str) or len(kid) > 64:  # the token header is not to be trusted
            return None
        if self._stale():
            await self._refresh()
        entry = self._published.get(kid) or await self._fetch(kid)
        return entry.key if entry is not None and entry.live(utcnow()) else None

    async def signing_key(self) -> KeyMaterial:
        if self._signer is None or self._stale():
            await self._refresh()
        if self._signer is None:
            raise ServiceUnavailable("No signing key is available yet")
        return self._signer

    async def jwks(self) -> dict[str, Any]:
        """Read from the database on every call: a key published by a rotation anywhere is in the
        JWKS at once (verifiers ask only on an unknown kid and every few minutes)."""
        async with self._lock:
            await self._load()
        now = utcnow()
        return {"keys": [entry.jwk for entry in self._published.values() if entry.live(now)]}

    def _stale(self) -> bool:
        return time.monotonic() - self._loaded_at > self._cache_seconds

    async def _refresh(self) -> None:
        async with self._lock:
            if self._stale():
                await self._load()

    async def _fetch(self, kid: str) -> _Published | None:
        """A key made since the last load (by another instance's rotation), or None."""
        async with self._session_factory() as session:
            row = await session.get(SigningKey, kid)
        if row is None:
            return None
        self._published[kid] = entry = self._entry(row)
        return entry

    def _entry(self, row: SigningKey) -> _Published:
        material = self._materials.get(row.kid) or KeyMaterial.from_row(row)
        self._materials[row.kid] = material
        jwk = material.public_jwk()
        return _Published(jwk, PyJWK.from_dict(jwk), row.retired_at)

    async def _load(self) -> None:
        async with self._session_factory() as session:
            rows = (await session.scalars(
                select(SigningKey).where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > utcnow()))
                .order_by(SigningKey.created_at.desc()))).all()
        published: dict[str, _Published] = {}
        signer = self._configured
        for row in rows:
            published[row.kid] = self._entry(row)
            if signer is None and row.retired_at is None and row.private_pem:
                signer = self._materials[row.kid]
        self._published, self._signer = published, signer
        self._loaded_at = time.monotonic()


@dataclass(frozen=True)
class Tokens:
    """Issues access tokens with the keyring's signing key and the configured claims."""

    keyring: Keyring
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    retirement_delay: timedelta  # how long a key that stopped signing stays published

    @classmethod
    def from_settings(cls, keyring: Keyring, settings: Any) -> Tokens:
        access_ttl = timedelta(minutes=settings.jwt_access_token_expire_minutes)
        # other instances may sign with the old key until their cache expires; their last
        # token must expire before the key leaves the JWKS
        retirement_delay = access_ttl + timedelta(seconds=settings.signing_key_cache_seconds, minutes=1)
        return cls(keyring, settings.jwt_issuer, settings.jwt_audience, access_ttl,
                   timedelta(days=settings.jwt_refresh_token_expire_days), retirement_delay)

    async def signer(self) -> KeyMaterial:
        """The current signing key; fetch it before opening a transaction (SQLite has one writer)."""
        return await self.keyring.signing_key()

    def access_token(self, signer: KeyMaterial, user_id: uuid.UUID, role: str, now: datetime) -> AccessToken:
        return sign_access_token(signer, user_id=user_id, role=role, issuer=self.issuer,
                                 audience=self.audience, ttl=self.access_ttl, now=now)
