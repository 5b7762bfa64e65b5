"""The bearer token of a request at the gateway, and the count of refusals.

The gateway checks tokens with `shared.auth.TokenVerifier`, as the services do: signature by
the user service's JWKS, exp, iss, aud, and revocation, which in mesh mode is answered from
the gateway's live copy of the revocation list (see `shared.auth.RedisRevocationList`)."""
from __future__ import annotations

from urllib.parse import parse_qs

from prometheus_client import Counter
from starlette.types import Scope

from api_gateway import routes

AUTH_REJECTIONS = Counter("repitbot_gateway_auth_rejected_total",
                          "Requests refused at the gateway for a missing or bad token", ["reason"])


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
