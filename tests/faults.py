"""A TCP fault proxy: put it between the processes of a test and a real server, then make the
server look dead and alive again without touching it (the suite's servers are shared).

    proxy = Proxy("127.0.0.1", servers_port)     # listens on a free loopback port at once
    url = proxy.address(url)                     # the same URL, through the proxy
    proxy.cut()       # every open connection closed, new ones refused: as a dead server
    proxy.restore()   # accepting again, on the same port
    proxy.close()

It runs its own event loop in a thread, so that a test (sync or async) calls it directly.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

CHUNK = 65_536


class Proxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0
        self.accepted = 0        # connections taken since start, through the proxy to the target
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="fault-proxy")
        self._thread.start()
        self._call(self._listen())

    @property
    def cut_off(self) -> bool:
        return self._server is None

    def address(self, url: str) -> str:
        """`url` (a URL of the target, any scheme) with the proxy's host and port."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{self.host}:{self.port}" if credentials else f"{self.host}:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def cut(self) -> None:
        """Stop listening (a new connection is refused) and close every open connection."""
        self._call(self._cut())

    def restore(self) -> None:
        """Listen again on the same port."""
        if self._server is None:
            self._call(self._listen())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # --- in the proxy's loop -------------------------------------------------------------
    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        # reuse_address (the default on Unix): the port is taken again at once after a cut
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        if self._server is None:          # cut while connecting
            client_writer.transport.abort()
            server_writer.transport.abort()
            return
        self.accepted += 1
        self._open.update((client_writer, server_writer))
        try:
            await asyncio.gather(_pump(client_reader, server_writer), _pump(server_reader, client_writer))
        finally:
            for writer in (client_writer, server_writer):
                self._open.discard(writer)
                writer.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until it ends; the end of one side ends the other's writing."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if not writer.transport.is_closing() and writer.can_write_eof():
            writer.write_eof()
