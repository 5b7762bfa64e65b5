"""The analytics service's own settings; the common ones come from `shared.settings.Settings`.
Each field is read from the environment variable of its name in capitals (and listed in `.env.example`)."""
from pydantic import Field

from shared.settings import Settings


class AnalyticsSettings(Settings):
    """Settings of the analytics service."""

    analytics_default_weeks: int = Field(12, ge=1, le=104)        # the range of a request without from/to
    analytics_max_range_days: int = Field(800, ge=7)              # a longer from/to range is refused (422)
    analytics_chart_cache_size: int = Field(256, ge=0)            # rendered charts kept per process
    analytics_active_users_interval_seconds: float = Field(60.0, gt=0)  # how often the gauge is counted
    analytics_rebuild_chunk: int = Field(5000, ge=100)            # events per read of `analytics rebuild`
