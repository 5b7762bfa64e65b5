"""JWT verification against the user service's JWKS, the caller's identity, role checks."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

import httpx
import jwt
from fastapi import Depends, Request
from jwt import PyJWK
from prometheus_client import Gauge

from shared.errors import Forbidden, ServiceUnavailable, Unauthorized

Role = Literal["admin", "teacher", "student", "parent"]
ALGORITHMS = ["EdDSA", "RS256"]
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="repitbot"'}
REVOCATIONS_CHANNEL = "revoked:jti"
USER_REVOCATIONS_CHANNEL = "revoked:user"   # "<user id> <revoked at> <kept until>": every token of a user
POLL_SECONDS = 0.25
# labelled so that a process that keeps no copy (embedded mode) exports no series at all
REVOCATIONS_MIRRORED = Gauge("repitbot_revocations_mirrored",
                             "1 while this process answers token revocation checks from its live copy",
                             ["channel"])
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Principal:
    id: uuid.UUID
    role: Role
    jti: str
    expires_at: int
    issued_at: int = 0

    def is_(self, *roles: str) -> bool:
        return self.role in roles


class KeySource(Protocol):
    async def key(self, kid: str) -> PyJWK | None: ...


class RevocationList(Protocol):
    async def is_revoked(self, jti: str) -> bool: ...

    async def is_user_revoked(self, user_id: str, issued_at: int) -> bool: ...


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
    """A bearer token's caller: signature by its `kid`, `exp`, `iss`, `aud`, not revoked.

    Checking an EdDSA signature is the most expensive step of a request, so a verified token
    is remembered by its full text until it expires; whether it was revoked is asked on every
    request (from memory while the revocation list is mirrored), so a logout takes effect at once."""

    def __init__(self, keys: KeySource, *, issuer: str, audience: str,
                 revocations: RevocationList | None = None, cache_size: int = 10_000) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._revocations = revocations
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        principal = self._cache.get(token)
        if principal is None or principal.expires_at <= time.time():
            self._cache.pop(token, None)
            principal = await self._check_signed(token)
            self._cache[token] = principal
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if self._revocations is not None:
            try:
                revoked = await self._revocations.is_revoked(principal.jti) or \
                    await self._revocations.is_user_revoked(str(principal.id), principal.issued_at)
            except Exception as exc:  # boundary: without the revocation list no token can be trusted
                raise ServiceUnavailable("Token revocation list unavailable") from exc
            if revoked:
                raise Unauthorized("Token has been revoked", headers=BEARER_CHALLENGE)
        return principal

    async def _check_signed(self, token: str) -> Principal:
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
            principal = Principal(uuid.UUID(claims["sub"]), claims["role"], claims["jti"], claims["exp"],
                                  int(claims["iat"]))
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Unauthorized(f"Invalid token: {exc}", headers=BEARER_CHALLENGE) from exc
        if principal.role not in ("admin", "teacher", "student", "parent"):
            raise Unauthorized("Invalid token: unknown role", headers=BEARER_CHALLENGE)
        return principal


class RedisRevocationList:
    """Revoked access-token IDs, kept in Redis until the token would have expired anyway.

    Each revocation is also published on `REVOCATIONS_CHANNEL`. A process that runs `mirror()`
    keeps the list in memory: it subscribes, then reads the whole list, then applies what is
    published, and starts over after a lost connection. While the copy is live, `is_revoked`
    answers from memory (no Redis round trip on each request); otherwise it asks Redis. Other
    processes learn of a revocation within milliseconds; the one that made it, at once.
    `revoke_user` revokes every token of one user issued until then (deactivation, deletion):
    one key per user, published on `USER_REVOCATIONS_CHANNEL`, mirrored the same way."""

    def __init__(self, redis: Any, prefix: str = "revoked:jti:", user_prefix: str = "revoked:user:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._user_prefix = user_prefix
        self._copy: dict[str, float] | None = None      # jti -> when its token expires
        self._users: dict[str, tuple[float, float]] = {}  # user id -> (revoked at, kept until), with the copy

    @property
    def mirrored(self) -> bool:
        return self._copy is not None

    async def revoke(self, jti: str, expires_at: int) -> None:
        ttl = max(1, int(expires_at - time.time()))
        kept_until = time.time() + ttl
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._prefix + jti, "1", ex=ttl)
            pipe.publish(REVOCATIONS_CHANNEL, f"{jti} {kept_until}")
            await pipe.execute()
        if self._copy is not None:      # this process sees its own revocation at once
            self._copy[jti] = kept_until

    async def is_revoked(self, jti: str) -> bool:
        copy = self._copy
        if copy is not None:
            return jti in copy
        return bool(await self._redis.exists(self._prefix + jti))

    async def revoke_user(self, user_id: str, *, revoked_at: float, kept_until: float) -> None:
        """Revoke every token of the user issued up to `revoked_at` (deactivation, deletion);
        kept until the last such token would have expired anyway."""
        ttl = max(1, math.ceil(kept_until - time.time()))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._user_prefix + user_id, repr(revoked_at), ex=ttl)
            pipe.publish(USER_REVOCATIONS_CHANNEL, f"{user_id} {revoked_at!r} {kept_until!r}")
            await pipe.execute()
        if self._copy is not None:
            self._users[user_id] = (revoked_at, kept_until)

    async def is_user_revoked(self, user_id: str, issued_at: int) -> bool:
        if self._copy is not None:
            revoked = self._users.get(user_id)
            return revoked is not None and issued_at <= revoked[0]
        value = await self._redis.get(self._user_prefix + user_id)
        return value is not None and issued_at <= float(value)

    async def mirror(self, *, retry_seconds: float = 1.0) -> None:
        """Keep the in-memory copy live until cancelled (a background task)."""
        live = REVOCATIONS_MIRRORED.labels(REVOCATIONS_CHANNEL)
        live.set(0)
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(REVOCATIONS_CHANNEL, USER_REVOCATIONS_CHANNEL)
                for _ in range(2):
                    confirmation = await pubsub.get_message(timeout=max(retry_seconds, 5.0))
                    if not confirmation or confirmation["type"] != "subscribe":
                        raise ConnectionError("no confirmation of the subscription")
                copy = await self._read_all()       # revocations from now on are published to us
                self._users = await self._read_users()
                self._copy = copy
                live.set(1)
                log.info("revocation list mirrored: %d revoked tokens", len(copy))
                pruned_at = time.time()
                while True:
                    # polled, not `listen()`: redis-py can swallow a cancellation during a blocking read
                    message = await pubsub.get_message(timeout=POLL_SECONDS)
                    _raise_if_cancelled()
                    if message is not None and message["type"] == "message":
                        self._apply(copy, message["channel"], message["data"])
                    if time.time() - pruned_at > 60:
                        pruned_at = time.time()
                        for gone in [j for j, expires in copy.items() if expires < pruned_at]:
                            del copy[gone]
                        for gone in [u for u, (_, kept) in self._users.items() if kept < pruned_at]:
                            del self._users[gone]
            except Exception:  # boundary: Redis away; ask it per request until the copy is live again
                _raise_if_cancelled()
                log.warning("revocation list mirror lost; asking Redis per request", exc_info=True)
            finally:
                self._copy = None
                live.set(0)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(retry_seconds)

    def _apply(self, copy: dict[str, float], channel: str, data: str) -> None:
        """One published revocation, into the copy."""
        if channel == USER_REVOCATIONS_CHANNEL:
            user_id, revoked_at, kept_until = data.split(" ")
            self._users[user_id] = (float(revoked_at), float(kept_until))
        else:
            jti, _, expires_at = data.partition(" ")
            copy[jti] = float(expires_at or 0)

    async def _read_users(self) -> dict[str, tuple[float, float]]:
        keys = [key async for key in self._redis.scan_iter(match=self._user_prefix + "*", count=1000)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
                pipe.pttl(key)
            values = await pipe.execute() if keys else []
        now = time.time()
        return {key[len(self._user_prefix):]: (float(value), now + ttl / 1000 if ttl >= 0 else math.inf)
                for key, value, ttl in zip(keys, values[::2], values[1::2]) if value is not None}

    async def _read_all(self) -> dict[str, float]:
        keys = [key async for key in self._redis.scan_iter(match=self._prefix + "*", count=1000)]
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(key)
            ttls = await pipe.execute() if keys else []
        now = time.time()     # a TTL of -1 (none) is kept for good, -2 (gone meanwhile) is dropped
        return {key[len(self._prefix):]: now + ttl / 1000 if ttl >= 0 else math.inf
                for key, ttl in zip(keys, ttls) if ttl != -2}


def _raise_if_cancelled() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


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
