"""Charts as PNG, drawn with matplotlib's Agg backend off the event loop, and kept until new events
arrive: a chart's key names the viewer, the question and the event store's version, and its ETag
is that key's digest, so a client that has it gets 304 without anything being drawn."""
from __future__ import annotations

import asyncio
import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from services.analytics import metrics
from services.analytics.schemas import OverviewPublic, ProgressPublic
from shared.downloads import strong_etag

_DRAWING = threading.Lock()   # matplotlib's font and text caches are not made for threads at once

TITLES = {
    "ru": {"progress": "Прогресс: {name}", "lessons": "Уроки в неделю", "xp": "XP в неделю",
           "scores": "Оценки за домашние задания, %", "overview": "Обзор преподавателя",
           "taught": "Проведённые уроки в неделю", "hours": "Часы", "income": "Доход по месяцам",
           "week": "Неделя", "no_scores": "Оценок пока нет", "attended": "посещено", "cancelled": "отменено"},
    "en": {"progress": "Progress: {name}", "lessons": "Lessons per week", "xp": "XP per week",
           "scores": "Homework scores, %", "overview": "Teacher overview",
           "taught": "Lessons taught per week", "hours": "Hours", "income": "Income per month",
           "week": "Week", "no_scores": "No scores yet", "attended": "attended", "cancelled": "cancelled"},
}


def titles(locale: str) -> dict[str, str]:
    return TITLES.get(locale, TITLES["en"])


class ChartCache:
    """The last charts drawn, least recently used first out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._charts: OrderedDict[str, bytes] = OrderedDict()

    @staticmethod
    def etag(*key: object) -> str:
        return strong_etag(hashlib.sha256("\x1f".join(map(str, key)).encode()).hexdigest()[:32])

    def get(self, etag: str) -> bytes | None:
        png = self._charts.get(etag)
        if png is not None:
            self._charts.move_to_end(etag)
        return png

    def put(self, etag: str, png: bytes) -> None:
        if self.size <= 0:
            return
        self._charts[etag] = png
        self._charts.move_to_end(etag)
        while len(self._charts) > self.size:
            self._charts.popitem(last=False)


async def render(chart: str, draw: Callable[[], bytes]) -> bytes:
    """Draw in a worker thread, one chart at a time."""
    def locked() -> bytes:
        with _DRAWING:
            return draw()
    metrics.CHARTS_RENDERED.labels(chart).inc()
    return await asyncio.to_thread(locked)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _labels(weeks: Sequence[object]) -> list[str]:
    return [week.strftime("%d.%m") for week in weeks]  # type: ignore[attr-defined]


def progress_png(progress: ProgressPublic, locale: str) -> bytes:
    """Lessons and XP per week, and the homework score trend."""
    t = titles(locale)
    figure = Figure(figsize=(9, 8), layout="constrained")
    figure.suptitle(t["progress"].format(name=progress.student_name or progress.student_id), fontsize=14)
    lessons, xp, scores = figure.subplots(3, 1)
    x = list(range(len(progress.weeks)))
    labels = _labels([week.week for week in progress.weeks])
    lessons.bar(x, [w.lessons_attended for w in progress.weeks], color="#2e7d32", label=t["attended"])
    lessons.bar(x, [w.lessons_cancelled for w in progress.weeks], bottom=[w.lessons_attended for w in progress.weeks],
                color="#c62828", label=t["cancelled"])
    lessons.set_title(t["lessons"])
    lessons.legend(loc="upper left")
    xp.plot(x, [w.xp for w in progress.weeks], marker="o", color="#1565c0")
    xp.fill_between(x, [w.xp for w in progress.weeks], alpha=0.2, color="#1565c0")
    xp.set_title(t["xp"])
    for axes in (lessons, xp):
        axes.set_xticks(x, labels, rotation=45, fontsize=8)
        axes.grid(axis="y", alpha=0.3)
    points = [point.percent for point in progress.homework.scores if point.percent is not None]
    scores.set_title(t["scores"])
    if points:
        scores.plot(range(1, len(points) + 1), points, marker="o", color="#6a1b9a")
        scores.set_ylim(0, 105)
        scores.grid(alpha=0.3)
    else:
        scores.text(0.5, 0.5, t["no_scores"], ha="center", va="center", transform=scores.transAxes)
    return _png(figure)


def overview_png(overview: OverviewPublic, locale: str) -> bytes:
    """Lessons and hours per week, and income per month."""
    t = titles(locale)
    figure = Figure(figsize=(9, 6), layout="constrained")
    figure.suptitle(t["overview"], fontsize=14)
    lessons, income = figure.subplots(2, 1)
    x = list(range(len(overview.weeks)))
    lessons.bar(x, [w.lessons for w in overview.weeks], color="#2e7d32")
    hours = lessons.twinx()
    hours.plot(x, [w.hours for w in overview.weeks], color="#ef6c00", marker="o")
    hours.set_ylabel(t["hours"])
    lessons.set_title(t["taught"])
    lessons.set_xticks(x, _labels([w.week for w in overview.weeks]), rotation=45, fontsize=8)
    months = [m.month.strftime("%m.%Y") for m in overview.months]
    currencies = sorted({currency for m in overview.months for currency in m.income}) or ["RUB"]
    for i, currency in enumerate(currencies):
        income.bar([j + i * 0.8 / len(currencies) for j in range(len(months))],
                   [m.income.get(currency, 0) / 100 for m in overview.months],
                   width=0.8 / len(currencies), label=currency)
    income.set_xticks(range(len(months)), months)
    income.set_title(t["income"])
    income.legend(loc="upper left")
    income.grid(axis="y", alpha=0.3)
    return _png(figure)
