"""ASGI middleware every process uses: correlation IDs, metrics, security headers, JSON body size limit."""
from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import context, metrics
from shared.errors import TooLarge, problem

HEADER = b"x-correlation-id"
# Sent on every answer unless the route set its own: nothing is cached that did not ask to be
# (token pairs, invite codes, feed URLs are in bodies), no MIME sniffing, no Referer leaving,
# and no page of the API may run a script or be framed (/docs sets a policy of its own).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {k.lower() for k, _ in headers}
    return headers + [(k, v) for k, v in SECURITY_HEADERS if k not in present]


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


def valid_correlation_id(raw: bytes | None) -> str | None:
    if not raw or len(raw) > 128:
        return None
    value = raw.decode("latin-1")
    return value if all(c.isalnum() or c in "-_.:" for c in value) else None


class RequestContextMiddleware:
    """Sets the correlation ID (from the request or new), counts and times every request,
    and refuses JSON bodies larger than `max_json_bytes` with 413 before reading them."""

    def __init__(self, app: ASGIApp, *, service: str, max_json_bytes: int = 1_048_576) -> None:
        self.app = app
        self.service = service
        self.max_json_bytes = max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = valid_correlation_id(_header(scope, HEADER)) or context.new_correlation_id()
        token = context.correlation_id.set(cid)
        context.causation_id.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = with_security_headers([(k, v) for k, v in message.get("headers", []) if k != HEADER])
                headers.append((HEADER, cid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if self._too_large(scope):
                response = problem(413, f"JSON bodies are limited to {self.max_json_bytes} bytes")
                await response(scope, receive, send_with_id)
                return
            await self.app(scope, self._limited(receive, scope), send_with_id)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(self.service, scope["method"], route).observe(
                time.perf_counter() - started)
            context.correlation_id.reset(token)

    def _is_json(self, scope: Scope) -> bool:
        content_type = (_header(scope, b"content-type") or b"").lower()
        return not content_type.startswith(b"multipart/") and scope["method"] in ("POST", "PUT", "PATCH")

    def _too_large(self, scope: Scope) -> bool:
        length = _header(scope, b"content-length")
        return self._is_json(scope) and length is not None and length.isdigit() \
            and int(length) > self.max_json_bytes

    def _limited(self, receive: Receive, scope: Scope) -> Receive:
        if not self._is_json(scope):
            return receive
        seen = 0
        limit = self.max_json_bytes

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(f"JSON bodies are limited to {limit} bytes")
            return message
        return limited
