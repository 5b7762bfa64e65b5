"""What the analytics service's bootstrap hook (`app.bootstrap`) builds once, and the route dependency
that hands it over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.analytics.charts import ChartCache
from services.analytics.settings import AnalyticsSettings
from shared.app import get_deps, get_settings
from shared.people import Directory


@dataclass(frozen=True)
class AnalyticsDeps:
    settings: AnalyticsSettings
    directory: Directory   # asks the user service about a link not heard of yet
    charts: ChartCache     # rendered charts, by viewer, question and the store's version


DepsDep = Annotated[AnalyticsDeps, Depends(get_deps)]
SettingsDep = Annotated[AnalyticsSettings, Depends(get_settings)]
