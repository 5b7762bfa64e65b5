"""Round-robin over a service's instances, skipping those that failed recently
(like Envoy's outlier ejection: a connection failure ejects at once, repeated 5xx or
timeouts eject after a few in a row; an ejected instance comes back after a while)."""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from prometheus_client import Counter

EJECTIONS = Counter("repitbot_gateway_instance_ejections_total",
                    "Upstream instances taken out of rotation after failures", ["upstream"])


@dataclass(eq=False)
class Instance:
    url: str
    ejected_until: float = 0.0
    consecutive_errors: int = 0

    def available(self, now: float) -> bool:
        return self.ejected_until <= now


class InstancePool:
    def __init__(self, service: str, urls: list[str], *, ejection_seconds: float,
                 errors_to_eject: int, clock: Callable[[], float] = time.monotonic) -> None:
        if not urls:
            raise ValueError(f"service {service!r} has no instance URL")
        self.service = service
        self.instances = [Instance(url.rstrip("/")) for url in urls]
        self._ejection_seconds = ejection_seconds
        self._errors_to_eject = errors_to_eject
        self._clock = clock
        self._turn = itertools.count()

    def pick(self, exclude: Collection[Instance] = ()) -> Instance | None:
        """The next available instance; when all are ejected, the one that comes back first
        (better to try than to refuse); None when every instance is in `exclude`."""
        candidates = [i for i in self.instances if i not in exclude]
        if not candidates:
            return None
        now = self._clock()
        available = [i for i in candidates if i.available(now)]
        if not available:
            return min(candidates, key=lambda i: i.ejected_until)
        return available[next(self._turn) % len(available)]

    def succeeded(self, instance: Instance) -> None:
        instance.consecutive_errors = 0

    def failed(self, instance: Instance, *, connection: bool) -> None:
        instance.consecutive_errors += 1
        if connection or instance.consecutive_errors >= self._errors_to_eject:
            if instance.available(self._clock()):
                EJECTIONS.labels(self.service).inc()
            instance.ejected_until = self._clock() + self._ejection_seconds
            instance.consecutive_errors = 0

    def describe(self) -> list[dict[str, object]]:
        now = self._clock()
        return [{"url": i.url, "ejected": not i.available(now),
                 "ejected_for_seconds": round(max(0.0, i.ejected_until - now), 2)}
                for i in self.instances]
