"""Password hashing: Argon2id at configured parameters, a bounded pool of hashing threads, and
a refusal (503 with Retry-After) once too many hashes are waiting.

Argon2 is deliberately dear (tens of milliseconds of CPU and megabytes of memory a hash), so
a burst of logins and registrations would otherwise take every core and make every other
request of the process wait. Hashes run in a thread pool of `concurrency` threads (argon2-cffi
releases the GIL, so the event loop keeps serving meanwhile) at a lower priority than the
event loop's; at most `max_waiting` more wait for a thread, and the next is told to come back
later.

Every login costs exactly one verification: an unknown account, or a stored hash that cannot
be parsed, is checked against a dummy hash made with the current parameters, so that the
answer's timing does not tell whether the account exists.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from services.user.metrics import PASSWORD_HASHING_REFUSED, PASSWORD_HASHING_WAITING
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
DUMMY_PASSWORD = "a password nobody has"


@dataclass(frozen=True)
class Argon2Parameters:
    memory_kib: int
    time_cost: int
    parallelism: int

    def hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_kib,
                              parallelism=self.parallelism, type=Type.ID)


@dataclass(frozen=True)
class Verdict:
    matches: bool
    needs_rehash: bool = False   # the password is right but its hash has other parameters


def _lower_priority(niceness: int) -> None:
    """Make the calling thread yield the CPU to the event loop's (Linux has a nice value per thread)."""
    if niceness > 0 and sys.platform == "linux":
        thread = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + niceness))
        except OSError as exc:
            log.warning("hashing threads keep their priority: %s", exc)


class HashingPool:
    """At most `concurrency` hashes at once on their own threads, at most `max_waiting` waiting.

    The threads run `niceness` steps below the rest of the process, so that while they take
    the cores the event loop still answers every other request first."""

    def __init__(self, *, concurrency: int, max_waiting: int, niceness: int = 0) -> None:
        self.concurrency = max(1, concurrency)
        self.max_waiting = max(0, max_waiting)
        self.niceness = niceness
        self.waiting = 0
        self._slots = asyncio.Semaphore(self.concurrency)
        self._executor: ThreadPoolExecutor | None = None
        self._seconds_per_hash = 0.1   # a running mean, for Retry-After

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` on a hashing thread; ServiceUnavailable when the queue is full."""
        if self._slots.locked() and self.waiting >= self.max_waiting:
            PASSWORD_HASHING_REFUSED.inc()
            raise ServiceUnavailable("Too many logins and registrations at once; try again shortly",
                                     headers={"Retry-After": str(self.retry_after())})
        self.waiting += 1
        PASSWORD_HASHING_WAITING.inc()
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
            PASSWORD_HASHING_WAITING.dec()
        try:
            started = time.perf_counter()
            result = await asyncio.get_running_loop().run_in_executor(self._pool(), work, *args)
            self._seconds_per_hash += (time.perf_counter() - started - self._seconds_per_hash) / 8
            return result
        finally:
            self._slots.release()

    def retry_after(self) -> int:
        """Seconds until the hashes waiting now are likely done (at least 1)."""
        return max(1, math.ceil((self.waiting + 1) * self._seconds_per_hash / self.concurrency))

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="argon2",
                                                initializer=_lower_priority, initargs=(self.niceness,))
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class Passwords:
    """Hashing and verification of passwords, through one bounded pool per process."""

    def __init__(self, parameters: Argon2Parameters, pool: HashingPool) -> None:
        self.parameters = parameters
        self.pool = pool
        self._hasher = parameters.hasher()
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await self.pool.run(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> Verdict:
        """One Argon2 verification, whether or not there is a (readable) hash to check."""
        dummy = await self.dummy_hash()
        return await self.pool.run(self._verify, stored_hash, password, dummy)

    async def dummy_hash(self) -> str:
        """The hash an unknown account is checked against (made once, at start-up)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(DUMMY_PASSWORD)
        return self._dummy_hash

    def _verify(self, stored_hash: str | None, password: str, dummy: str) -> Verdict:
        try:
            matches = self._check(stored_hash or dummy, password) and stored_hash is not None
        except InvalidHashError:   # a damaged hash costs what a readable one does, and matches nothing
            self._check(dummy, password)
            return Verdict(False)
        return Verdict(matches, matches and self._hasher.check_needs_rehash(stored_hash or ""))

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except VerificationError:
            return False

    def close(self) -> None:
        self.pool.close()
