from shared.settings import Settings


class AnalyticsSettings(Settings):
    """Settings of the analytics service."""
