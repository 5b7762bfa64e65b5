from typing import Literal

from pydantic import Field

from shared.settings import Settings


class StudentSettings(Settings):
    """Settings of the student service (gamification)."""

    # Override the level curve of the active rule set when set (README.md, "Configuration").
    default_level_xp_threshold: int | None = Field(None, gt=0)
    xp_multiplier: float | None = Field(None, gt=0)
    max_level: int | None = Field(None, ge=2, le=10_000)
    level_curve: Literal["power", "geometric"] | None = None

    platform_timezone: str = "Europe/Moscow"                # the weeks and months of the leaderboards
    leaderboard_ttl_seconds: int = Field(3600, gt=0)        # boards are rebuilt from the ledger this often
    leaderboard_key_prefix: str = "leaderboard:"            # Redis keys (deployments may share a Redis)
    rules_refresh_seconds: float = Field(5.0, ge=0)         # how soon another instance's rule change is seen
    retroactive_batch_size: int = Field(200, gt=0)          # students per transaction when rules change
    recommendation_lessons: int = Field(10, gt=0)           # recent lessons whose subjects suggest materials
