"""JWT verification against the user service's JWKS, the caller's identity, role checks."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

import httpx
import jwt
from fastapi import Depends, Request
from jwt import PyJWK

from shared.errors import Forbidden, Unauthorized

Role = Literal["admin", "teacher", "student", "parent"]
ALGORITHMS = ["EdDSA", "RS256"]
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="repitbot"'}


@dataclass(frozen=True)
class Principal:
    id: uuid.UUID
    role: Role
    jti: str
    expires_at: int

    def is_(self, *roles: str) -> bool:
        return self.role in roles


class KeySource(Protocol):
    async def key(self, kid: str) -> PyJWK | None: ...


class RevocationList(Protocol):
    async def is_revoked(self, jti: str) -> bool: ...


class JWKSClient:
    """Fetches public keys from a JWKS URL, caches them, refetches on an unknown `kid`."""

    def __init__(self, url: str, *, transport: httpx.AsyncBaseTransport | None = None,
                 ttl: float = 300.0, min_refetch_interval: float = 5.0) -> None:
        self._url = url
        self._transport = transport
        self._ttl = ttl
        self._min_interval = min_refetch_interval
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> PyJWK | None:
        fresh = time.monotonic() - self._fetched_at < self._ttl
        if kid in self._keys and fresh:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys or not fresh:
                if time.monotonic() - self._fetched_at >= self._min_interval or not fresh:
                    await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=5.0) as client:
                response = await client.get(self._url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            if not self._keys:
                raise Unauthorized("Signing keys are unavailable", headers=BEARER_CHALLENGE) from exc
            return
        self._keys = {k["kid"]: PyJWK.from_dict(k) for k in document.get("keys", []) if "kid" in k}
        self._fetched_at = time.monotonic()


class TokenVerifier:
    def __init__(self, keys: KeySource, *, issuer: str, audience: str,
                 revocations: RevocationList | None = None) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._revocations = revocations

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("Malformed token", headers=BEARER_CHALLENGE) from exc
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise Unauthorized("Unsupported token algorithm", headers=BEARER_CHALLENGE)
        key = await self._keys.key(header["kid"])
        if key is None:
            raise Unauthorized("Unknown signing key", headers=BEARER_CHALLENGE)
        try:
            claims = jwt.decode(token, key=key.key, algorithms=[key.algorithm_name],
                                audience=self._audience, issuer=self._issuer,
                                options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]})
            principal = Principal(uuid.UUID(claims["sub"]), claims["role"], claims["jti"], claims["exp"])
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthorized(f"Invalid token: {exc}", headers=BEARER_CHALLENGE) from exc
        if principal.role not in ("admin", "teacher", "student", "parent"):
            raise Unauthorized("Invalid token: unknown role", headers=BEARER_CHALLENGE)
        if self._revocations and await self._revocations.is_revoked(principal.jti):
            raise Unauthorized("Token has been revoked", headers=BEARER_CHALLENGE)
        return principal


class RedisRevocationList:
    """Revoked access-token IDs, kept in Redis until the token would have expired anyway."""

    def __init__(self, redis: Any, prefix: str = "revoked:jti:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def revoke(self, jti: str, expires_at: int) -> None:
        ttl = max(1, int(expires_at - time.time()))
        await self._redis.set(self._prefix + jti, "1", ex=ttl)

    async def is_revoked(self, jti: str) -> bool:
        return bool(await self._redis.exists(self._prefix + jti))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


async def current_principal(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Missing bearer token", headers=BEARER_CHALLENGE)
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await request.app.state.verifier.verify(token)
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role):
    async def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise Forbidden(f"This action needs one of the roles: {', '.join(roles)}")
        return user
    return Depends(check)


def public_jwk(key: PyJWK | Any, kid: str, alg: str) -> dict[str, Any]:
    """The public half of a signing key as a JWK."""
    from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
    algo = OKPAlgorithm if alg == "EdDSA" else RSAAlgorithm
    data = json.loads(algo.to_jwk(key.public_key()))
    data.update({"kid": kid, "alg": alg, "use": "sig"})
    return data
