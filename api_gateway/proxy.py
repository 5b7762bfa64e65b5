"""The proxy path: pure ASGI, for every request whose path belongs to a service.

Order of checks: token (when one is sent) -> rate limit (per user, else per IP) -> 401 if the
path needs a token -> concurrency cap -> circuit breaker -> forward, retrying idempotent
requests on another instance when the connection fails -> stream the answer back.
"""
from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_gateway import routes
from api_gateway.auth import AUTH_REJECTIONS, token_of
from api_gateway.balancer import InstancePool
from api_gateway.breakers import BreakerOpen, Permit
from api_gateway.metrics import (UPSTREAM_ERRORS, UPSTREAM_IN_FLIGHT, UPSTREAM_LATENCY, UPSTREAM_REQUESTS,
                                 UPSTREAM_RETRIES)
from api_gateway.upstream import (Body, ConnectFailed, Headers, Transport, UpstreamBroken, UpstreamError,
                                  UpstreamResponse, UpstreamTimeout)
from shared import context
from shared.auth import Principal
from shared.errors import DomainError, problem

if TYPE_CHECKING:
    from api_gateway.gateway import Gateway

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
                        b"te", b"trailer", b"transfer-encoding", b"upgrade"})
NOT_FORWARDED = HOP_BY_HOP | {b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                              b"x-correlation-id"}
NOT_RETURNED = HOP_BY_HOP | {b"x-correlation-id", b"date", b"server"}


@dataclass
class Upstream:
    """One upstream service: its instances, its connection pool and its concurrency cap."""

    name: str
    pool: InstancePool
    transport: Transport
    max_concurrent: int
    in_flight: int = field(default=0)


class UpstreamStatus(Exception):
    """A 5xx answer: a failure for the breaker, passed on to the client as it is."""

    kind = "status_5xx"


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, *, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = routes.resolve(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route          # the shared request metrics label by its `path`
        try:
            await self._handle(route, scope, receive, send)
        except DomainError as exc:
            await _problem(scope, receive, send, exc.status, exc.detail, headers=exc.headers)

    async def _handle(self, route: routes.Route, scope: Scope, receive: Receive, send: Send) -> None:
        gw = self.gateway
        method, path = scope["method"], scope["path"]
        client_ip = (scope.get("client") or ("unknown", 0))[0]
        principal, auth_error = await self._authenticate(scope)
        key = f"user:{principal.id}" if principal else f"ip:{client_ip}"
        quota = await gw.limiter.check(key, client_ip=client_ip, strict=routes.strictly_limited(method, path))
        limit_headers = quota.headers() if quota else []
        if quota and not quota.allowed:
            await _problem(scope, receive, send, 429,
                           f"Too many requests; try again in {quota.reset_after} s", extra=limit_headers)
            return
        if principal is None and not routes.is_public(method, path):
            error = auth_error or DomainError("Missing bearer token")
            AUTH_REJECTIONS.labels("missing" if auth_error is None else "invalid").inc()
            await _problem(scope, receive, send, 401, error.detail,
                           headers={"WWW-Authenticate": 'Bearer realm="repitbot"'}, extra=limit_headers)
            return
        upstream = gw.upstreams[route.service]
        if upstream.in_flight >= upstream.max_concurrent:
            UPSTREAM_ERRORS.labels(upstream.name, "overloaded").inc()
            await _problem(scope, receive, send, 503, f"The {upstream.name} service is at capacity",
                           headers={"Retry-After": "1"}, extra=limit_headers)
            return
        try:
            permit = await gw.breakers.admit(upstream.name)
        except BreakerOpen as exc:
            UPSTREAM_ERRORS.labels(upstream.name, "circuit_open").inc()
            await _problem(scope, receive, send, 503, str(exc),
                           headers={"Retry-After": str(exc.retry_after)}, extra=limit_headers)
            return
        upstream.in_flight += 1
        UPSTREAM_IN_FLIGHT.labels(upstream.name).inc()
        try:
            await self._proxy(upstream, permit, route, scope, receive, send, limit_headers)
        finally:
            upstream.in_flight -= 1
            UPSTREAM_IN_FLIGHT.labels(upstream.name).dec()

    async def _authenticate(self, scope: Scope) -> tuple[Principal | None, DomainError | None]:
        token = token_of(scope)
        if token is None:
            return None, None
        try:
            return await self.gateway.authenticator.verify(token), None
        except DomainError as exc:
            if exc.status != 401:
                raise
            return None, exc

    async def _proxy(self, upstream: Upstream, permit: Permit, route: routes.Route, scope: Scope,
                     receive: Receive, send: Send, limit_headers: Headers) -> None:
        body = await RequestBody.read(receive)
        try:
            response = await self._forward(upstream, permit, route, scope, body)
        except UpstreamError as exc:
            status = 504 if isinstance(exc, UpstreamTimeout) else 502
            log.warning("%s %s: %s upstream failed: %s", scope["method"], scope["path"], upstream.name, exc)
            await _problem(scope, receive, send, status, f"The {upstream.name} service did not answer",
                           extra=limit_headers)
            return
        headers = [(k, v) for k, v in ((k.lower(), v) for k, v in response.headers) if k not in NOT_RETURNED]
        try:
            await send({"type": "http.response.start", "status": response.status,
                        "headers": headers + limit_headers})
            async for chunk in response.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except UpstreamError as exc:   # the answer broke off half way: all we can do is close
            UPSTREAM_ERRORS.labels(upstream.name, exc.kind).inc()
            log.warning("%s %s: %s response broke off: %s", scope["method"], scope["path"], upstream.name, exc)
        finally:
            await response.close()

    async def _forward(self, upstream: Upstream, permit: Permit, route: routes.Route, scope: Scope,
                       body: RequestBody) -> UpstreamResponse:
        """Send to one instance after another until one answers; report to the breaker once."""
        method, headers, target = scope["method"], forwarded_headers(scope), _target(scope)
        tried: list = []
        settled = False
        try:
            while True:
                instance = upstream.pool.pick(exclude=tried)
                started = time.perf_counter()
                try:
                    response = await upstream.transport.send(method, instance.url, target, headers, body.content())
                except UpstreamError as exc:
                    UPSTREAM_ERRORS.labels(upstream.name, exc.kind).inc()
                    connection = isinstance(exc, (ConnectFailed, UpstreamBroken))
                    upstream.pool.failed(instance, connection=connection)
                    tried.append(instance)
                    if (connection and method in IDEMPOTENT and body.replayable
                            and len(tried) <= self.gateway.settings.upstream_retries
                            and upstream.pool.pick(exclude=tried) is not None):
                        UPSTREAM_RETRIES.labels(upstream.name).inc()
                        continue
                    settled = True
                    permit.failure(exc)
                    raise
                UPSTREAM_LATENCY.labels(upstream.name, route.path).observe(time.perf_counter() - started)
                UPSTREAM_REQUESTS.labels(upstream.name, route.path, method, str(response.status)).inc()
                settled = True
                if response.status >= 500:
                    UPSTREAM_ERRORS.labels(upstream.name, "status_5xx").inc()
                    upstream.pool.failed(instance, connection=False)
                    permit.failure(UpstreamStatus(response.status))
                else:
                    upstream.pool.succeeded(instance)
                    permit.success()
                return response
        finally:
            if not settled:              # cancelled (the client left): not the upstream's fault
                permit.success()


class RequestBody:
    """The client's body: whole when it came in one message (replayable), else streamed."""

    def __init__(self, first: bytes, receive: Receive | None) -> None:
        self._first = first
        self._receive = receive
        self._consumed = False

    @classmethod
    async def read(cls, receive: Receive) -> RequestBody:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DomainError("The client went away")
        body = message.get("body", b"")
        return cls(body, receive if message.get("more_body", False) else None)

    @property
    def replayable(self) -> bool:
        return self._receive is None or not self._consumed

    def content(self) -> Body:
        if self._receive is None:
            return self._first
        return self._stream()

    async def _stream(self) -> AsyncIterator[bytes]:
        self._consumed = True
        if self._first:
            yield self._first
        while True:
            message: Message = await self._receive()
            if message["type"] == "http.disconnect":
                raise UpstreamBroken("the client went away during the upload")
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                return


def forwarded_headers(scope: Scope) -> Headers:
    """The client's headers less hop-by-hop ones, plus X-Forwarded-* and X-Correlation-ID."""
    raw = scope["headers"]
    named = {n.strip().lower().encode() for k, v in raw if k == b"connection" for n in v.decode("latin-1").split(",")}
    headers = [(k, v) for k, v in raw if k not in NOT_FORWARDED and k not in named]
    client = (scope.get("client") or ("unknown", 0))[0]
    incoming = b", ".join(v for k, v in raw if k == b"x-forwarded-for").decode("latin-1")
    chain = incoming if incoming.rsplit(",", 1)[-1].strip() == client else ", ".join(filter(None, [incoming, client]))
    host = next((v for k, v in raw if k == b"host"), None)
    headers.append((b"x-forwarded-for", chain.encode("latin-1")))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    if host is not None:
        headers.append((b"x-forwarded-host", host))
    headers.append((b"x-correlation-id", context.current_correlation_id().encode()))
    return headers


def _target(scope: Scope) -> str:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return (path + (b"?" + query if query else b"")).decode("latin-1")


async def _problem(scope: Scope, receive: Receive, send: Send, status: int, detail: str, *,
                   headers: dict[str, str] | None = None, extra: Headers = ()) -> None:
    all_headers = {**{k.decode(): v.decode() for k, v in extra}, **(headers or {})}
    await problem(status, detail, headers=all_headers)(scope, receive, send)
