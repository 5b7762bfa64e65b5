"""The unit of work of this service: the shared one, plus the clock, settings and channels
that handlers and use cases need (tests give a clock they control)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notification.settings import NotificationSettings
from services.notification.templates import Renderer
from shared.db import UnitOfWork

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Deps:
    settings: NotificationSettings
    clock: Clock
    channels: tuple[str, ...]   # the external channels that are configured
    renderer: Renderer


class NotificationUow(UnitOfWork):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], deps: Deps, *,
                 on_commit: Callable[[], None] | None = None) -> None:
        super().__init__(session_factory, producer="notification", on_commit=on_commit)
        self.deps = deps

    def now(self) -> datetime:
        return self.deps.clock()
