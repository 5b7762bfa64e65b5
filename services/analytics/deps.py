"""What the analytics service's bootstrap hook (`app.bootstrap`) builds once, and the route dependency
that hands it over. Collaborators that outlive a request (clients, caches, loaded rules) go here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.analytics.settings import AnalyticsSettings
from shared.app import get_deps, get_settings


@dataclass(frozen=True)
class AnalyticsDeps:
    settings: AnalyticsSettings


DepsDep = Annotated[AnalyticsDeps, Depends(get_deps)]
SettingsDep = Annotated[AnalyticsSettings, Depends(get_settings)]
