"""One circuit breaker (pybreaker) per upstream service, its state shared through Redis.

pybreaker asks its storage synchronously, several times per call; its `CircuitRedisStorage`
would make two or more blocking Redis round trips on every proxied request and stall the
event loop whenever Redis is slow. `SyncedStorage` instead answers from a local copy and
queues its writes; `BreakerRegistry.sync_forever` flushes the writes (in order, failures
as HINCRBY so that instances add up) and reads every breaker back from Redis every
`breaker_sync_interval` seconds. The hot path (a success while closed) touches nothing but
memory; the price is that another gateway instance learns of a trip or a reset up to one
interval later. In embedded mode there is no Redis and the same storage is purely local.

pybreaker lets every call through while half-open; the spec wants one trial, so
`admit` hands out a single trial permit (in mesh mode a Redis key, so one per cluster).

Time comes from the registry's clock (seconds since the epoch; tests pass one they move):
the storage stamps the opening with it, and `admit` half-opens the breaker itself once the
recovery timeout has passed on it, so pybreaker's own reading of the wall clock is never asked.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pybreaker
from prometheus_client import Gauge

log = logging.getLogger(__name__)

STATE_NAMES = {pybreaker.STATE_CLOSED: "closed", pybreaker.STATE_OPEN: "open",
               pybreaker.STATE_HALF_OPEN: "half_open"}
STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}
BREAKER_STATE = Gauge("repitbot_gateway_breaker_state",
                      "Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open", ["upstream"])
KEY = "gateway:breaker:{}"
TRIAL_KEY = "gateway:breaker:{}:trial"

Clock = Callable[[], float]


class BreakerOpen(Exception):
    def __init__(self, service: str, retry_after: int) -> None:
        super().__init__(f"The {service} service is unavailable (circuit open)")
        self.service = service
        self.retry_after = retry_after


class SyncedStorage(pybreaker.CircuitBreakerStorage):
    """Local breaker state with a queue of writes for Redis (see the module docstring)."""

    def __init__(self, service: str, clock: Clock = time.time) -> None:
        super().__init__(service)
        self._clock = clock
        self._state = pybreaker.STATE_CLOSED
        self._failures = 0
        self._successes = 0
        self._opened_at: datetime | None = None
        self.pending: list[tuple[str, str, Any]] = []

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        self._state = state
        self.pending.append(("set", "state", state))

    def increment_counter(self) -> None:
        self._failures += 1
        self.pending.append(("incr", "failures", 1))

    def reset_counter(self) -> None:
        if self._failures:
            self._failures = 0
            self.pending.append(("set", "failures", 0))

    def increment_success_counter(self) -> None:
        self._successes += 1

    def reset_success_counter(self) -> None:
        self._successes = 0

    @property
    def counter(self) -> int:
        return self._failures

    @property
    def success_counter(self) -> int:
        return self._successes

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_at

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        """Stamped with the clock, not with the wall-clock `value` pybreaker passes."""
        now = self._clock()
        self._opened_at = datetime.fromtimestamp(now, UTC)
        self.pending.append(("set", "opened_at", now))

    def apply_remote(self, fields: dict[str, str]) -> None:
        """Take the shared state read from Redis (unless our own writes are still queued)."""
        if self.pending or not fields:
            return
        self._state = fields.get("state", self._state)
        self._failures = int(fields.get("failures", 0) or 0)
        if fields.get("opened_at"):
            self._opened_at = datetime.fromtimestamp(float(fields["opened_at"]), UTC)


class _GaugeListener(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        name = STATE_NAMES[new_state.name]
        BREAKER_STATE.labels(cb.name).set(STATE_VALUES[name])
        log.warning("circuit breaker of %s is now %s", cb.name, name)


@dataclass
class Permit:
    """The right to call one upstream once; report the outcome exactly once."""

    registry: BreakerRegistry
    service: str
    trial: bool
    _context: Any

    def success(self) -> None:
        self._context.__exit__(None, None, None)
        self.registry._end_trial(self)

    def failure(self, exc: BaseException) -> None:
        self._context.__exit__(type(exc), exc, exc.__traceback__)
        self.registry._end_trial(self)


class BreakerRegistry:
    def __init__(self, services: list[str], *, failure_threshold: int, recovery_timeout: float,
                 redis: Any = None, sync_interval: float = 0.25, trial_ttl: float = 30.0,
                 clock: Clock = time.time) -> None:
        self._clock = clock
        self._storages = {s: SyncedStorage(s, clock) for s in services}
        self.breakers = {s: pybreaker.CircuitBreaker(
            fail_max=failure_threshold, reset_timeout=recovery_timeout, state_storage=self._storages[s],
            listeners=[_GaugeListener()], name=s, throw_new_error_on_trip=False) for s in services}
        self._redis = redis
        self._sync_interval = sync_interval
        self._trial_ttl_ms = int(trial_ttl * 1000)
        self._trials: set[str] = set()
        for service in services:
            BREAKER_STATE.labels(service).set(0)

    async def admit(self, service: str) -> Permit:
        """A permit to call `service`, or BreakerOpen while its circuit is open (or on trial)."""
        breaker = self.breakers[service]
        state = breaker.current_state
        trial = state != pybreaker.STATE_CLOSED
        if state == pybreaker.STATE_OPEN and self._seconds_left(service) > 0:
            raise BreakerOpen(service, self.retry_after(service))
        if trial and not await self._begin_trial(service):
            raise BreakerOpen(service, 1)
        if state == pybreaker.STATE_OPEN:
            breaker.half_open()
        context = breaker.calling()
        try:
            context.__enter__()
        except pybreaker.CircuitBreakerError:
            self._trials.discard(service)
            raise BreakerOpen(service, self.retry_after(service)) from None
        return Permit(self, service, trial, context)

    def retry_after(self, service: str) -> int:
        return max(1, math.ceil(self._seconds_left(service)))

    def _seconds_left(self, service: str) -> float:
        opened_at = self._storages[service].opened_at
        if opened_at is None:
            return 0.0
        return opened_at.timestamp() + self.breakers[service].reset_timeout - self._clock()

    async def _begin_trial(self, service: str) -> bool:
        if service in self._trials:
            return False
        self._trials.add(service)
        if self._redis is not None:
            try:
                got = await self._redis.set(TRIAL_KEY.format(service), "1", nx=True, px=self._trial_ttl_ms)
            except Exception:  # boundary: Redis down must not stop traffic; fall back to local
                log.exception("breaker trial lock unavailable for %s", service)
                got = True
            if not got:
                self._trials.discard(service)
                return False
        return True

    def _end_trial(self, permit: Permit) -> None:
        if permit.trial:
            self._trials.discard(permit.service)
            if self._redis is not None:
                self._spawn(self._redis.delete(TRIAL_KEY.format(permit.service)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background = getattr(self, "_background", set())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def reset(self, service: str) -> None:
        """Close the breaker (an admin's decision), here and, through Redis, everywhere."""
        self.breakers[service].close()
        self._trials.discard(service)
        if self._redis is not None:
            await self._redis.delete(TRIAL_KEY.format(service))
            await self.sync_once()

    def describe(self, service: str) -> dict[str, Any]:
        breaker = self.breakers[service]
        state = STATE_NAMES[breaker.state.name]   # `.state` notices changes made elsewhere
        BREAKER_STATE.labels(service).set(STATE_VALUES[state])
        described: dict[str, Any] = {"state": state, "failure_count": breaker.fail_counter,
                                     "failure_threshold": breaker.fail_max}
        if state == "open":
            described["retry_after_seconds"] = self.retry_after(service)
        return described

    async def sync_once(self) -> None:
        """Push queued writes to Redis, then read every breaker back."""
        if self._redis is None:
            return
        flushing = {s: st.pending[:] for s, st in self._storages.items() if st.pending}
        if flushing:
            pipe = self._redis.pipeline(transaction=False)
            for service, ops in flushing.items():
                for op, field, value in ops:
                    if op == "incr":
                        pipe.hincrby(KEY.format(service), field, value)
                    else:
                        pipe.hset(KEY.format(service), field, value)
            await pipe.execute()
            for service, ops in flushing.items():
                del self._storages[service].pending[:len(ops)]
        pipe = self._redis.pipeline(transaction=False)
        for service in self._storages:
            pipe.hgetall(KEY.format(service))
        for service, fields in zip(self._storages, await pipe.execute()):
            self._storages[service].apply_remote(fields)
            self.describe(service)

    async def sync_forever(self) -> None:
        while True:
            try:
                await self.sync_once()
            except Exception:  # boundary: keep serving from the local copy while Redis is away
                log.exception("breaker state sync with Redis failed")
            await asyncio.sleep(self._sync_interval)
