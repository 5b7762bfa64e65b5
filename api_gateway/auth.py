"""Token checks at the door: signature by the user service's JWKS, exp, iss, aud, revoked jti.

Verifying an EdDSA signature is the most expensive step of a proxied request, so a verified
token is remembered (by its full text, until it expires); revocation is still asked of Redis
on every request, so a logout takes effect at once."""
from __future__ import annotations

import time
from collections import OrderedDict
from urllib.parse import parse_qs

from prometheus_client import Counter
from starlette.types import Scope

from api_gateway import routes
from shared.auth import BEARER_CHALLENGE, KeySource, Principal, RevocationList, TokenVerifier
from shared.errors import ServiceUnavailable, Unauthorized

AUTH_REJECTIONS = Counter("repitbot_gateway_auth_rejected_total",
                          "Requests refused at the gateway for a missing or bad token", ["reason"])


class Authenticator:
    def __init__(self, keys: KeySource, revocations: RevocationList, *, issuer: str, audience: str,
                 cache_size: int = 10_000) -> None:
        self._verifier = TokenVerifier(keys, issuer=issuer, audience=audience)
        self._revocations = revocations
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        """The caller behind `token`, or Unauthorized (with a `WWW-Authenticate` challenge)."""
        principal = self._cache.get(token)
        if principal is None or principal.expires_at <= time.time():
            self._cache.pop(token, None)
            principal = await self._verifier.verify(token)
            self._remember(token, principal)
        try:
            revoked = await self._revocations.is_revoked(principal.jti)
        except Exception as exc:  # boundary: without the revocation list no token can be trusted
            raise ServiceUnavailable("Token revocation list unavailable") from exc
        if revoked:
            raise Unauthorized("Token has been revoked", headers=BEARER_CHALLENGE)
        return principal

    def _remember(self, token: str, principal: Principal) -> None:
        self._cache[token] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def token_of(scope: Scope) -> str | None:
    """The bearer token of a request: the Authorization header, or `?token=` where allowed."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    if routes.takes_token_in_query(scope["path"]):
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        return values[0] if values else None
    return None
