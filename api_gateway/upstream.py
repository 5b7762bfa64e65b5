"""How the gateway talks to one upstream service: over HTTP (mesh mode) or in-process (embedded).

Both stream: the request body is read from the client as the upstream consumes it, and the
response body is handed on chunk by chunk, so a 50 MB upload or download never sits in memory.

The HTTP side uses aiohttp's client rather than httpx: on the proxy path it costs about a
quarter of httpx's CPU per request (measured in `bench/gateway.py`'s conditions), and the
gateway is on every request. In-process, the service's ASGI app is called directly (the app
of the `httpx.ASGITransport` that embedded mode registers), because `httpx.ASGITransport`
collects the whole response body before returning it.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

import aiohttp
from multidict import CIMultiDict
from prometheus_client import Gauge
from yarl import URL

from api_gateway.balancer import InstancePool
from api_gateway.metrics import UPSTREAM_IN_FLIGHT
from shared import tracing
from shared.addresses import IN_PROCESS_PEER

Headers = list[tuple[bytes, bytes]]
Body = bytes | AsyncIterator[bytes]
CHUNK = 64 * 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class UpstreamError(Exception):
    """The upstream could not be reached or broke off; `kind` labels metrics."""

    kind = "error"


class ConnectFailed(UpstreamError):
    """No connection was made: nothing was sent, a retry elsewhere is safe for idempotent requests."""

    kind = "connect"


class UpstreamTimeout(UpstreamError):
    kind = "timeout"


class UpstreamBroken(UpstreamError):
    """The connection dropped or the answer was not valid HTTP."""

    kind = "broken"


@dataclass
class UpstreamResponse:
    status: int
    headers: Headers
    body: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float


class Transport(Protocol):
    async def send(self, method: str, base_url: str, target: str, headers: Headers,
                   body: Body) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


class HttpTransport:
    """A pooled aiohttp session for one upstream service (all its instances)."""

    def __init__(self, timeouts: Timeouts, max_connections: int) -> None:
        self._timeouts = aiohttp.ClientTimeout(total=None, connect=timeouts.connect,
                                               sock_connect=timeouts.connect, sock_read=timeouts.read)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0,
                                             ttl_dns_cache=60, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeouts, auto_decompress=False,
                skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
                cookie_jar=aiohttp.DummyCookieJar(), trace_configs=tracing.aiohttp_trace_configs("gateway"))
        return self._session

    async def send(self, method: str, base_url: str, target: str, headers: Headers,
                   body: Body) -> UpstreamResponse:
        pairs = CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers)
        try:
            response = await self._client().request(
                method, URL(base_url + target, encoded=True), headers=pairs,
                data=body if body != b"" else None, allow_redirects=False)
        except aiohttp.ClientConnectorError as exc:
            raise ConnectFailed(str(exc)) from exc
        except aiohttp.ConnectionTimeoutError as exc:
            raise ConnectFailed("connect timeout") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise UpstreamTimeout("no response in time") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamBroken(f"{type(exc).__name__}: {exc}") from exc
        raw = [(k, v) for k, v in response.raw_headers]
        return UpstreamResponse(response.status, raw, _aiohttp_body(response), _aiohttp_close(response))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _aiohttp_body(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.content.iter_chunked(CHUNK):
            yield chunk
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise UpstreamTimeout("the body stalled") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamBroken(f"{type(exc).__name__}: {exc}") from exc


def _aiohttp_close(response: aiohttp.ClientResponse) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        if response.content.at_eof():
            response.release()      # the connection goes back to the pool
        else:
            response.close()        # half-read: the connection cannot be reused
    return close


class AsgiTransport:
    """Calls a service's ASGI app in-process and streams both ways through bounded queues."""

    def __init__(self, app: Any, timeouts: Timeouts) -> None:
        self._app = app
        self._read_timeout = timeouts.read

    async def send(self, method: str, base_url: str, target: str, headers: Headers,
                   body: Body) -> UpstreamResponse:
        path, _, query = target.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": unquote(path), "raw_path": path.encode(),
                 "query_string": query.encode(), "root_path": "", "headers": headers,
                 "server": (base_url.removeprefix("http://"), 80), "client": (IN_PROCESS_PEER, 0)}
        exchange = _Exchange(body)
        isolated = contextvars.copy_context()
        isolated.run(tracing.leave_trace)
        task = asyncio.create_task(exchange.run(self._app, scope), context=isolated)
        try:
            status, response_headers = await asyncio.wait_for(asyncio.shield(exchange.started),
                                                              self._read_timeout)
        except TimeoutError as exc:
            task.cancel()
            raise UpstreamTimeout("no response in time") from exc
        except Exception as exc:
            raise UpstreamBroken(f"{type(exc).__name__}: {exc}") from exc
        return UpstreamResponse(status, response_headers, exchange.chunks(), exchange.closer(task))

    async def aclose(self) -> None:
        return None


class _Exchange:
    """One in-process request: feeds the app's `receive`, collects its `send` into a queue."""

    _END = object()

    def __init__(self, body: Body) -> None:
        self._body = body
        self.started: asyncio.Future[tuple[int, Headers]] = asyncio.get_running_loop().create_future()
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=4)
        self._done = asyncio.Event()
        self._request_sent = False

    async def run(self, app: Any, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self._receive, self._send)
            if not self.started.done():
                self.started.set_exception(UpstreamBroken("the app returned without a response"))
        except Exception as exc:  # boundary: the app's failure becomes the upstream's failure
            if not self.started.done():
                self.started.set_exception(exc)
            else:
                with contextlib.suppress(asyncio.QueueFull):
                    self._queue.put_nowait(exc)

    async def _receive(self) -> dict[str, Any]:
        if self._request_sent:
            await self._done.wait()
            return {"type": "http.disconnect"}
        if isinstance(self._body, bytes):
            self._request_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        try:
            chunk = await self._body.__anext__()
        except StopAsyncIteration:
            self._request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.started.set_result((message["status"], list(message.get("headers", []))))
        elif message["type"] == "http.response.body":
            if message.get("body"):
                await self._queue.put(message["body"])
            if not message.get("more_body", False):
                await self._queue.put(self._END)

    async def chunks(self) -> AsyncIterator[bytes]:
        while (item := await self._queue.get()) is not self._END:
            if isinstance(item, BaseException):
                raise UpstreamBroken(f"{type(item).__name__}: {item}")
            yield item
        self._done.set()

    def closer(self, task: asyncio.Task[None]) -> Callable[[], Awaitable[None]]:
        async def close() -> None:
            finished = self._done.is_set()
            self._done.set()
            if finished or task.done():
                _LINGERING.add(task)            # background tasks of the app may still run
                task.add_done_callback(_LINGERING.discard)
                return
            task.cancel()                       # the client went away half way
            with contextlib.suppress(BaseException):
                await task
        return close


_LINGERING: set[asyncio.Task[None]] = set()



@dataclass
class Upstream:
    """One upstream service: its instances, its connection pool and its concurrency cap."""

    name: str
    pool: InstancePool
    transport: Transport
    max_concurrent: int
    in_flight: int = field(default=0)
    _gauge: Gauge = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._gauge = UPSTREAM_IN_FLIGHT.labels(self.name)

    def enter(self) -> None:
        self.in_flight += 1
        self._gauge.inc()

    def leave(self) -> None:
        self.in_flight -= 1
        self._gauge.dec()
