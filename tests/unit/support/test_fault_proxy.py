"""The fault proxy the ops tests put in front of the suite's servers: it passes bytes both ways;
cut, it closes what is open and refuses what is new, as a dead server does; restored, it
accepts again on the same port."""
import asyncio

import pytest

from tests.faults import Proxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _round_trip(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer, await reader.readexactly(len(data))


async def test_cut_closes_open_connections_and_refuses_new_ones_until_restored():
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    try:
        with Proxy("127.0.0.1", server.sockets[0].getsockname()[1]) as proxy:
            reader, writer, echoed = await _round_trip(proxy.port, b"hello")
            port = proxy.port

            proxy.cut()
            try:
                closed = await asyncio.wait_for(reader.read(), timeout=5)
            except ConnectionResetError:          # closed with a reset rather than an end of stream
                closed = b""
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)

            proxy.restore()
            _, again, echoed_again = await _round_trip(proxy.port, b"back")
            for w in (writer, again):
                w.close()
    finally:
        server.close()
    assert echoed == b"hello" and closed == b""
    assert (proxy.port, echoed_again, proxy.accepted) == (port, b"back", 2)
    assert proxy.address("amqp://guest:guest@127.0.0.1:5672/") == f"amqp://guest:guest@127.0.0.1:{port}/"
