"""Helpers for tests of password hashing: counting Argon2 calls, holding the hashing pool busy."""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from argon2 import PasswordHasher

if TYPE_CHECKING:
    from services.user.passwords import HashingPool


@dataclass
class Argon2Calls:
    """The hashes Argon2 was asked to verify against and how many passwords it hashed; the
    real work still runs, whoever calls it (the library is patched, not the service)."""

    verified: list[str] = field(default_factory=list)
    hashed: int = 0

    def clear(self) -> None:
        self.verified.clear()
        self.hashed = 0

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> Argon2Calls:
        calls = cls()
        real_verify, real_hash = PasswordHasher.verify, PasswordHasher.hash

        def verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
            calls.verified.append(hash if isinstance(hash, str) else hash.decode())
            return real_verify(self, hash, password)

        def hash_(self: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
            calls.hashed += 1
            return real_hash(self, password, salt=salt)

        monkeypatch.setattr(PasswordHasher, "verify", verify)
        monkeypatch.setattr(PasswordHasher, "hash", hash_)
        return calls


class HeldWork:
    """Work for a hashing pool that runs until the test lets it finish."""

    def __init__(self) -> None:
        self.started = threading.Semaphore(0)
        self.release = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        self.started.release()
        self.release.wait(timeout=60)
        with self._lock:
            self.running -= 1
        return "done"

    async def wait_started(self, count: int = 1) -> None:
        for _ in range(count):
            assert await asyncio.to_thread(self.started.acquire, timeout=60)


@contextlib.asynccontextmanager
async def pool_held(pool: HashingPool) -> AsyncIterator[HeldWork]:
    """Every thread of `pool` busy until the block ends."""
    work = HeldWork()
    holders = [asyncio.create_task(pool.run(work)) for _ in range(pool.concurrency)]
    await work.wait_started(pool.concurrency)
    try:
        yield work
    finally:
        work.release.set()
        await asyncio.gather(*holders)
