"""The routing table: which service answers which path prefix, and which paths are public.

This is the one place that knows it (docs/api.md, "The gateway")."""
from __future__ import annotations

import re
from dataclasses import dataclass

PREFIXES: dict[str, str] = {
    "/auth": "user",
    "/.well-known": "user",
    "/api/v1/users": "user",
    "/api/v1/teachers": "user",
    "/api/v1/invites": "user",
    "/api/v1/students/me/parent-invites": "user",
    "/api/v1/telegram": "user",
    "/api/v1/lessons": "lesson",
    "/api/v1/homework": "homework",
    "/api/v1/payments": "payment",
    "/api/v1/materials": "material",
    "/api/v1/notifications": "notification",
    "/api/v1/analytics": "analytics",
    "/api/v1/students": "student",
    "/api/v1/leaderboards": "student",
    "/api/v1/gamification": "student",
    "/api/v1/decks": "dictionary",
    "/api/v1/cards": "dictionary",
}

# Paths reachable without a token: (method or None for any, regular expression of the path).
PUBLIC: list[tuple[str | None, re.Pattern[str]]] = [
    ("POST", re.compile(r"/auth/(register|login|refresh)")),
    (None, re.compile(r"/\.well-known/jwks\.json")),
    ("POST", re.compile(r"/api/v1/payments/webhooks/[^/]+")),
    # the Telegram bot's own calls: the user service checks X-Bot-Token (and the chat key)
    ("POST", re.compile(r"/api/v1/telegram/(link|token|unlink)")),
    # the demo provider's confirmation page, authorised by the signature in its link
    ("GET", re.compile(r"/api/v1/payments/demo/[^/]+")),
    # calendar apps fetch the feed with a revocable feed token the lesson service checks
    ("GET", re.compile(r"/api/v1/lessons/calendar\.ics")),
]

# Paths where a browser or calendar app may pass the token as `?token=` instead of a header.
TOKEN_IN_QUERY = re.compile(r"/api/v1/lessons/calendar\.ics")

# Paths under the stricter per-IP limit (password guessing, account spam).
STRICT_LIMIT = re.compile(r"/auth/(login|register)")

_BY_LENGTH = sorted(PREFIXES.items(), key=lambda item: len(item[0]), reverse=True)


@dataclass(frozen=True)
class Route:
    """Where a request goes. `path` is the matched prefix: it labels metrics (like a route template)."""

    service: str
    path: str


def resolve(path: str) -> Route | None:
    """The longest prefix that matches `path` at a segment boundary, or None."""
    for prefix, service in _BY_LENGTH:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] in "/?"):
            return Route(service, prefix)
    return None


def is_public(method: str, path: str) -> bool:
    return any((m is None or m == method) and pattern.fullmatch(path) for m, pattern in PUBLIC)


def public_path(path: str) -> bool:
    """Whether `path` is public for some method: any other method is the service's to refuse
    (405), which it does before asking for a token."""
    return any(pattern.fullmatch(path) for _, pattern in PUBLIC)


def takes_token_in_query(path: str) -> bool:
    return TOKEN_IN_QUERY.fullmatch(path) is not None


def strictly_limited(method: str, path: str) -> bool:
    return method == "POST" and STRICT_LIMIT.fullmatch(path) is not None
