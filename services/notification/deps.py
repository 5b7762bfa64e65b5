"""What the notification service's bootstrap hook (`app.bootstrap`) builds once, and the route
dependency that hands it over: the clock, the settings, the configured channels, the renderer."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends

from services.notification.channels import Channel
from services.notification.settings import NotificationSettings
from services.notification.templates import Renderer
from shared.app import get_deps, get_settings

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class NotificationDeps:
    settings: NotificationSettings
    clock: Clock                  # tests give one they control
    channels: dict[str, Channel]  # the external channels that are configured, by name
    renderer: Renderer


DepsDep = Annotated[NotificationDeps, Depends(get_deps)]
SettingsDep = Annotated[NotificationSettings, Depends(get_settings)]
