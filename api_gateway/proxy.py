"""The proxy path: one route of the gateway app for every path that belongs to a service.

Order of checks: token (when one is sent) -> rate limit (slowapi's decorators on the endpoints,
per user, else per IP) -> 401 if the path needs a token -> concurrency cap -> circuit breaker ->
forward, retrying idempotent requests on another instance when the connection fails -> stream
the answer back. Refusals are returned, not raised, so that slowapi adds the rate limit headers.
"""
from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, request_response
from starlette.types import Message, Receive, Scope, Send

from api_gateway import routes
from api_gateway.auth import AUTH_REJECTIONS, token_of
from api_gateway.breakers import BreakerOpen, Permit
from api_gateway.gateway import Gateway
from api_gateway.metrics import UPSTREAM_ERRORS, UPSTREAM_LATENCY, UPSTREAM_REQUESTS, UPSTREAM_RETRIES
from api_gateway.upstream import (
    IDEMPOTENT,
    Body,
    ConnectFailed,
    Headers,
    Upstream,
    UpstreamBroken,
    UpstreamError,
    UpstreamResponse,
    UpstreamTimeout,
)
from shared import context, tracing
from shared.addresses import forwarded_chain
from shared.auth import BEARER_CHALLENGE, Principal
from shared.errors import DomainError, problem

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization",
                        b"te", b"trailer", b"transfer-encoding", b"upgrade"})
# Expect: 100-continue is the client's business with uvicorn, which answers it as the body is read.
NOT_FORWARDED = HOP_BY_HOP | {b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                              b"x-correlation-id", b"expect"}
NOT_RETURNED = HOP_BY_HOP | {b"x-correlation-id", b"date", b"server"}
Endpoint = Callable[[Request], Awaitable[Response]]


# A service answers 503 (with Retry-After) when one of its own dependencies fails: it is up and
# says so, so the answer is passed on but counts neither against its breaker nor its instance.
DEPENDENCY_UNAVAILABLE = 503


class UpstreamStatus(Exception):
    """A 5xx answer: a failure for the breaker, passed on to the client as it is."""

    kind = "status_5xx"


class ProxyRoute(BaseRoute):
    """The paths of every service (the routing table of `routes`), as one route. It goes first in
    the app's routes (the gateway's own paths are disjoint from them), checks the token and
    hands the request to an endpoint wrapped in slowapi's limits: the stricter one for login and
    registration, the general one otherwise."""

    def __init__(self, gateway: Gateway, *, general: Endpoint, strict: Endpoint) -> None:
        self._gateway = gateway
        self._general = request_response(general)
        self._strict = request_response(strict)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        route = routes.resolve(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            return Match.NONE, {}
        return Match.FULL, {"route": route}      # in the scope, its `path` labels the request metrics

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        state["principal"], state["auth_error"] = await self._authenticate(scope)
        strict = routes.strictly_limited(scope["method"], scope["path"])
        await (self._strict if strict else self._general)(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> tuple[Principal | None, DomainError | None]:
        """The caller, or the reason the token was refused (the path may not need one)."""
        token = token_of(scope)
        if token is None:
            return None, None
        try:
            return await self._gateway.authenticator.verify(token), None
        except DomainError as exc:
            if exc.status != 401:
                raise
            return None, exc


async def forward(request: Request) -> Response:
    """A request that passed its rate limit, to its service (or a problem+json refusal)."""
    gw: Gateway = request.app.state.gateway
    scope = request.scope
    method, route = scope["method"], scope["route"]
    tracing.name_request(route.path, method)
    if request.state.principal is None and not routes.public_path(scope["path"]):
        error = request.state.auth_error
        AUTH_REJECTIONS.labels("missing" if error is None else "invalid").inc()
        detail = error.detail if error is not None else "Missing bearer token"
        return problem(401, detail, headers=BEARER_CHALLENGE)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > gw.settings.max_request_bytes:
        return problem(413, f"Request bodies are limited to {gw.settings.max_request_bytes} bytes")
    body = await RequestBody.read(request.receive)
    upstream = gw.upstreams[route.service]
    if upstream.in_flight >= upstream.max_concurrent:
        UPSTREAM_ERRORS.labels(upstream.name, "overloaded").inc()
        return problem(503, f"The {upstream.name} service is at capacity", headers={"Retry-After": "1"})
    try:
        permit = await gw.breakers.admit(upstream.name)
    except BreakerOpen as exc:
        UPSTREAM_ERRORS.labels(upstream.name, "circuit_open").inc()
        return problem(503, str(exc), headers={"Retry-After": str(exc.retry_after)})
    upstream.enter()
    try:
        answer = await _send(gw, upstream, permit, route, scope, body)
    except UpstreamError as exc:
        upstream.leave()
        log.warning("%s %s: %s upstream failed: %s", method, scope["path"], upstream.name, exc)
        status = 504 if isinstance(exc, UpstreamTimeout) else 502
        return problem(status, f"The {upstream.name} service did not answer")
    except BaseException:
        upstream.leave()
        raise
    return ProxiedResponse(upstream, answer)


async def forward_auth(request: Request) -> Response:
    """Login and registration: the same, under the stricter per-IP limit as well."""
    return await forward(request)


async def _send(gw: Gateway, upstream: Upstream, permit: Permit, route: routes.Route, scope: Scope,
                body: RequestBody) -> UpstreamResponse:
    """Send to one instance after another until one answers; report to the breaker once."""
    trusted = tuple(gw.settings.trusted_proxies)
    method, headers, target = scope["method"], forwarded_headers(scope, trusted), _target(scope)
    tried: list = []
    settled = False
    try:
        while True:
            instance = upstream.pool.pick(exclude=tried)
            scope["state"]["upstream"] = instance.url      # for the request's log line
            started = time.perf_counter()
            try:
                with tracing.client_span("gateway", f"{method} {route.path}", **{
                        "server.address": instance.url, "http.request.method": method}):
                    response = await upstream.transport.send(method, instance.url, target,
                                                             tracing.inject_headers(headers), body.content())
            except UpstreamError as exc:
                UPSTREAM_ERRORS.labels(upstream.name, exc.kind).inc()
                connection = isinstance(exc, (ConnectFailed, UpstreamBroken))
                upstream.pool.failed(instance, connection=connection)
                tried.append(instance)
                if (connection and method in IDEMPOTENT and body.replayable
                        and len(tried) <= gw.settings.upstream_retries
                        and upstream.pool.pick(exclude=tried) is not None):
                    UPSTREAM_RETRIES.labels(upstream.name).inc()
                    continue
                settled = True
                permit.failure(exc)
                raise
            UPSTREAM_LATENCY.labels(upstream.name, route.path).observe(time.perf_counter() - started)
            UPSTREAM_REQUESTS.labels(upstream.name, route.path, method, str(response.status)).inc()
            settled = True
            if response.status >= 500 and response.status != DEPENDENCY_UNAVAILABLE:
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


class ProxiedResponse(Response):
    """An upstream's answer, streamed to the client chunk by chunk as it arrives."""

    def __init__(self, upstream: Upstream, answer: UpstreamResponse) -> None:
        self.status_code = answer.status
        headers = ((name.lower(), value) for name, value in answer.headers)
        self.raw_headers = [(name, value) for name, value in headers if name not in NOT_RETURNED]
        self.background = None
        self._upstream = upstream
        self._answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async for chunk in self._answer.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except UpstreamError as exc:   # the answer broke off half way: all we can do is close
            UPSTREAM_ERRORS.labels(self._upstream.name, exc.kind).inc()
            log.warning("%s %s: %s response broke off: %s", scope["method"], scope["path"],
                        self._upstream.name, exc)
        finally:
            self._upstream.leave()
            await self._answer.close()


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


def forwarded_headers(scope: Scope, trusted_proxies: tuple[str, ...] = ()) -> Headers:
    """The client's headers less hop-by-hop ones, plus X-Forwarded-* and X-Correlation-ID.
    An incoming X-Forwarded-For is kept only from a trusted proxy."""
    raw = scope["headers"]
    named = {n.strip().lower().encode() for k, v in raw if k == b"connection" for n in v.decode("latin-1").split(",")}
    headers = [(k, v) for k, v in raw if k not in NOT_FORWARDED and k not in named]
    client = (scope.get("client") or ("unknown", 0))[0]
    incoming = b", ".join(v for k, v in raw if k == b"x-forwarded-for").decode("latin-1")
    chain = forwarded_chain(client, incoming, trusted_proxies)
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
