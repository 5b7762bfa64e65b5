"""The analytics API's routes: thin, they parse, call a use case of `service.py` and return a schema
(or a chart, or a streamed CSV)."""
from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from services.analytics import charts, reports, service
from services.analytics.deps import AnalyticsDeps, DepsDep, SettingsDep
from services.analytics.schemas import OverviewPublic, ProgressPublic
from shared.app import UowDep, UowFactoryDep
from shared.auth import CurrentUser, require_roles
from shared.db import UnitOfWork
from shared.downloads import content_disposition, etag_matches
from shared.events import utcnow
from shared.openapi import IsoDatetime

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
TEACHER = require_roles("teacher")
TEACHER_OR_ADMIN = require_roles("teacher", "admin")
PNG = {200: {"content": {"image/png": {}}, "description": "A PNG chart (`ETag`; kept until new events arrive)"},
       304: {"description": "The chart the client holds (`If-None-Match`) is still current"}}
CSV = {200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with a byte order mark, streamed"}}

From = Annotated[IsoDatetime | None, Query(alias="from", description="Inclusive start (default: `weeks` back)")]
To = Annotated[IsoDatetime | None, Query(alias="to", description="Exclusive end (default: the end of this week)")]
Weeks = Annotated[int | None, Query(ge=1, le=104, description="Whole weeks up to the end of this one")]


class ReportName(enum.StrEnum):
    lessons = "lessons"
    payments = "payments"
    homework = "homework"
    progress = "progress"


@router.get("/students/{student_id:uuid}/progress", response_model=ProgressPublic, response_model_by_alias=True)
async def student_progress(student_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep,
                           settings: SettingsDep, start: From = None, end: To = None,
                           weeks: Weeks = None) -> ProgressPublic:
    """Lessons, attendance, cancellations, homework, XP, level, streak, words and materials of a
    student, by week in the viewer's zone. The student, their teacher or parent, or an admin;
    404 for anyone else. 422 when `to` is not after `from`, when they are more than 800 days
    apart (ANALYTICS_MAX_RANGE_DAYS), or when either is outside the years 1970-2200."""
    viewer = await service.viewer_of(uow, user)
    await service.check_may_see(uow, viewer, student_id, deps.directory)
    window = service.window_of(start, end, weeks, viewer, settings, utcnow())
    return await service.progress_of(uow, viewer, student_id, *window)


@router.get("/students/{student_id:uuid}/progress.png", response_class=Response, responses=PNG)
async def student_progress_chart(student_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep,
                                 settings: SettingsDep, start: From = None, end: To = None, weeks: Weeks = None,
                                 if_none_match: Annotated[str | None, Header(max_length=1000)] = None) -> Response:
    """The progress as a chart: lessons and XP per week, homework scores; titles in the viewer's
    language. Kept until new events arrive: `If-None-Match` with its `ETag` answers 304. The
    range rules of the JSON progress."""
    viewer = await service.viewer_of(uow, user)
    await service.check_may_see(uow, viewer, student_id, deps.directory)
    window = service.window_of(start, end, weeks, viewer, settings, utcnow())

    async def draw() -> bytes:
        progress = await service.progress_of(uow, viewer, student_id, *window)
        return await charts.render("progress", lambda: charts.progress_png(progress, viewer.locale))
    return await _chart(uow, deps, if_none_match, "progress", (viewer.id, viewer.locale, viewer.tz.key,
                                                               student_id, *window), draw)


@router.get("/teachers/me/overview", response_model=OverviewPublic, response_model_by_alias=True,
            dependencies=[TEACHER])
async def teacher_overview(user: CurrentUser, uow: UowDep, settings: SettingsDep, start: From = None,
                           end: To = None, weeks: Weeks = None) -> OverviewPublic:
    """The caller's teaching and business: lessons and hours by week and month, income by month,
    debts, homework on time, active students and students at risk. 422 when `to` is not after
    `from`, when they are more than 800 days apart, or when either is outside the years 1970-2200."""
    return await service.overview_for(uow, user, start, end, weeks, settings)


@router.get("/teachers/me/overview.png", response_class=Response, responses=PNG, dependencies=[TEACHER])
async def teacher_overview_chart(user: CurrentUser, uow: UowDep, deps: DepsDep, settings: SettingsDep,
                                 start: From = None, end: To = None, weeks: Weeks = None,
                                 if_none_match: Annotated[str | None, Header(max_length=1000)] = None) -> Response:
    """The overview as a chart: lessons and hours per week, income per month (`ETag`, 304 as for
    the progress chart; the range rules of the overview)."""
    viewer = await service.viewer_of(uow, user)
    window = service.window_of(start, end, weeks, viewer, settings, utcnow())

    async def draw() -> bytes:
        overview = await service.overview_of(uow, viewer, *window)
        return await charts.render("overview", lambda: charts.overview_png(overview, viewer.locale))
    return await _chart(uow, deps, if_none_match, "overview", (viewer.id, viewer.locale, viewer.tz.key, *window),
                        draw)


@router.get("/reports/{name}.csv", response_class=StreamingResponse, responses=CSV, dependencies=[TEACHER_OR_ADMIN])
async def report_csv(name: ReportName, user: CurrentUser, uow: UowDep, uows: UowFactoryDep, settings: SettingsDep,
                     start: From = None, end: To = None, weeks: Weeks = None) -> StreamingResponse:
    """An export (lessons, payments, homework, progress) of the caller's students (an admin's: of
    everyone) over the range, times in the caller's zone, money in minor units. The range rules
    of the overview (422)."""
    viewer = await service.viewer_of(uow, user)
    now = utcnow()
    start, end = service.window_of(start, end, weeks, viewer, settings, now)
    request = reports.ReportRequest(teacher_id=None if user.role == "admin" else user.id, start=start, end=end,
                                    viewer=viewer, now=now)
    filename = f"{name.value}-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return StreamingResponse(reports.stream(uows(), name.value, request), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": content_disposition(filename),
                                      "Cache-Control": "private, no-store"})


async def _chart(uow: UnitOfWork, deps: AnalyticsDeps, if_none_match: str | None, chart: str, key: tuple,
                 draw: Callable[[], Awaitable[bytes]]) -> Response:
    """The chart for `key` at the store's current version: 304, from the cache, or drawn now."""
    etag = deps.charts.etag(chart, *key, await service.store_version(uow))
    headers = {"ETag": etag, "Cache-Control": "private, no-cache",
               "Content-Disposition": content_disposition(f"{chart}.png", inline=True)}
    if if_none_match and etag_matches(if_none_match, etag):
        charts.metrics.CHART_CACHE_HITS.labels(chart).inc()
        return Response(status_code=304, headers=headers)
    png = deps.charts.get(etag)
    if png is None:
        png = await draw()
        deps.charts.put(etag, png)
    else:
        charts.metrics.CHART_CACHE_HITS.labels(chart).inc()
    return Response(png, media_type="image/png", headers=headers)

