"""The analytics service: what it is made of (`SPEC`), its bootstrap hook and its app."""
import asyncio
import logging
from datetime import timedelta
from typing import cast

from sqlalchemy import func, select

from services.analytics import api, metrics
from services.analytics.charts import ChartCache
from services.analytics.deps import AnalyticsDeps
from services.analytics.handlers import analytics_handlers
from services.analytics.models import Activity, AnalyticsBase
from services.analytics.settings import AnalyticsSettings
from shared.app import ServiceContext, ServiceSpec
from shared.events import utcnow
from shared.people import close_directory, directory_for

log = logging.getLogger(__name__)
ACTIVE_PERIODS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


async def bootstrap(ctx: ServiceContext) -> AnalyticsDeps:
    """The service's dependencies, built once when it starts."""
    settings = cast(AnalyticsSettings, ctx.settings)
    return AnalyticsDeps(settings=settings, directory=directory_for(ctx),
                         charts=ChartCache(settings.analytics_chart_cache_size))


async def count_active_users(ctx: ServiceContext, deps: AnalyticsDeps) -> None:
    """Keep the active-users gauge: students with any activity in the last day, week and month."""
    while True:
        try:
            async with ctx.uow_factory().read_only() as uow:
                now = utcnow()
                for period, span in ACTIVE_PERIODS.items():
                    active = await uow.session.scalar(select(func.count(func.distinct(Activity.student_id)))
                                                      .where(Activity.at >= now - span))
                    metrics.ACTIVE_USERS.labels(period).set(active or 0)
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: a background loop logs and tries again later
            log.exception("counting active users failed; retrying later")
        await asyncio.sleep(deps.settings.analytics_active_users_interval_seconds)


SPEC = ServiceSpec(
    name="analytics",
    metadata=AnalyticsBase.metadata,
    settings_class=AnalyticsSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=analytics_handlers,
    background=[close_directory, count_active_users],
)


create_app = SPEC.create_app
