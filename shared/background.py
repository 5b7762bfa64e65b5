"""Work that a request or a batch of events starts and does not wait for (a leaderboard update after
a commit): owned by the service, awaited by `settle()`, finished or cancelled when it stops."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """The tasks of one service that nobody awaits as they run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work, name=f"{self.name}:background")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:  # boundary: nobody else sees it
            log.error("background work of %s failed", self.name, exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def settle(self) -> None:
        """Wait until every task started so far, and those they start, has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self, grace: float = 5.0) -> None:
        """Let running work finish for up to `grace` seconds, then cancel what is left."""
        try:
            async with asyncio.timeout(grace):
                await self.settle()
        except TimeoutError:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
