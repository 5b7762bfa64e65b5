"""Servers of a test's own, for tests that stop them (the session's servers are shared)."""
from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.mesh import free_port
from tests.servers import Servers


class RedisServer:
    """A Redis that can be stopped and started again on the same port."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._work = work
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is installed by scripts/install-system-deps.sh"
        with open(self._work / "redis.log", "ab") as log:
            self._proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(self.port),
                                           "--dir", str(self._work), "--save", "", "--appendonly", "no"],
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                with redis.Redis.from_url(self.url, socket_timeout=1) as client:
                    client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline or self._proc.poll() is not None:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(timeout=10)
        self._proc = None


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    work = Path(tempfile.mkdtemp(prefix="repitbot-redis-"))
    server = RedisServer(work)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def servers_with_own_redis(servers: Servers, own_redis: RedisServer) -> Servers:
    """The session's PostgreSQL and RabbitMQ with a Redis of the test's own."""
    return dataclasses.replace(servers, redis_url=own_redis.url)
