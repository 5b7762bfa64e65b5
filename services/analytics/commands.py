"""`repitbot analytics rebuild`: empty the read models and replay the event store into them,
without starting the service (no consumer, no HTTP), in either mode."""
from __future__ import annotations

import sys

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.analytics.app import SPEC
from services.analytics.projection import rebuild
from services.analytics.settings import AnalyticsSettings
from shared.db import make_engine
from shared.migrations import alembic_config, upgrade


async def rebuild_command(settings: AnalyticsSettings | None = None) -> int:
    """The number of events replayed."""
    settings = settings or AnalyticsSettings()
    url = settings.database_url_for("analytics")
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, pool_size=2)
    try:
        await upgrade(engine, alembic_config("analytics", SPEC.versions_dir, SPEC.metadata))
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        return await rebuild(sessions, chunk=settings.analytics_rebuild_chunk,
                             progress=lambda n: sys.stderr.write(f"replayed {n} events\n"))
    finally:
        await engine.dispose()
