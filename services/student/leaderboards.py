"""Leaderboards: Redis sorted sets of XP per period (ISO week, month, all time), fed after each
commit that wrote the XP ledger, and rebuilt from the ledger whenever a board is missing.

A board built from the ledger holds a marker member (score -inf, never shown). A board without
it (Redis flushed, a key expired, or an increment that found no key and made a partial one) is
rebuilt into a temporary key and RENAMEd over the board, so instances rebuilding at once do not
add up. Boards expire after `leaderboard_ttl_seconds`, so whatever drift a Redis outage or a
rebuild racing an increment leaves behind lasts at most that long.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.student import metrics
from services.student.models import XpEntry

log = logging.getLogger(__name__)

PeriodName = Literal["week", "month", "all"]
PERIODS: tuple[PeriodName, ...] = ("week", "month", "all")
MARKER = "~built"


@dataclass(frozen=True)
class Period:
    name: PeriodName
    label: str                       # 2026-W12, 2026-03, all
    starts_at: datetime | None
    ends_at: datetime | None

    @property
    def key(self) -> str:
        return f"{self.name}:{self.label}"


def period_of(name: PeriodName, moment: datetime, zone: ZoneInfo) -> Period:
    """The period of `name` containing `moment`, in the platform's zone."""
    local = moment.astimezone(zone).date()
    if name == "week":
        monday = local - timedelta(days=local.weekday())
        year, week, _ = local.isocalendar()
        return Period(name, f"{year}-W{week:02d}", _midnight(monday, zone), _midnight(monday + timedelta(days=7), zone))
    if name == "month":
        first = local.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return Period(name, f"{first:%Y-%m}", _midnight(first, zone), _midnight(following, zone))
    return Period("all", "all", None, None)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), zone)


@dataclass(frozen=True)
class Standing:
    student_id: uuid.UUID
    xp: int
    rank: int


def ranked(scores: list[tuple[uuid.UUID, int]]) -> list[Standing]:
    """Competition ranking (1, 2, 2, 4) of scores sorted from the highest."""
    standings: list[Standing] = []
    for place, (student_id, xp) in enumerate(scores):
        rank = standings[-1].rank if standings and standings[-1].xp == xp else place + 1
        standings.append(Standing(student_id, xp, rank))
    return standings


class Leaderboards:
    def __init__(self, redis: Any, session_factory: async_sessionmaker[AsyncSession], *, zone: ZoneInfo,
                 ttl_seconds: int, prefix: str = "leaderboard:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._sessions = session_factory
        self.zone = zone
        self._ttl = ttl_seconds
        self._stale: set[str] = set()  # boards an increment failed on: dropped once Redis answers

    def current(self, name: PeriodName, now: datetime) -> Period:
        return period_of(name, now, self.zone)

    # --- writing ---------------------------------------------------------------------------
    async def add(self, awards: list[tuple[uuid.UUID, int, datetime]]) -> None:
        """Add committed XP awards (student, amount, when) to the boards of their periods."""
        totals: dict[tuple[str, str], int] = {}
        boards_of_day: dict[date, list[str]] = {}  # a batch's awards mostly fall on one day
        for student_id, amount, at in awards:
            day = at.astimezone(self.zone).date()
            if day not in boards_of_day:
                boards_of_day[day] = [self._key(period_of(name, at, self.zone)) for name in PERIODS]
            member = str(student_id)
            for key in boards_of_day[day]:
                totals[key, member] = totals.get((key, member), 0) + amount
        keys = {key for key, _ in totals}
        try:
            await self._drop_stale()
            pipe = self._redis.pipeline(transaction=False)
            for (key, member), amount in totals.items():
                pipe.zincrby(key, amount, member)
            for key in keys:
                pipe.expire(key, self._ttl, nx=True)
            await pipe.execute()
        except Exception:  # boundary: Redis is a cache of the ledger, the ledger has the award
            self._stale |= keys
            metrics.LEADERBOARD_UPDATE_FAILURES.inc()
            log.warning("leaderboard update failed; %d board(s) will be rebuilt", len(keys), exc_info=True)

    def _key(self, period: Period) -> str:
        return self._prefix + period.key

    async def _drop_stale(self) -> None:
        if self._stale:
            stale = list(self._stale)
            await self._redis.delete(*stale)
            self._stale.difference_update(stale)

    # --- reading ---------------------------------------------------------------------------
    async def top(self, period: Period, *, offset: int, limit: int) -> tuple[list[Standing], int]:
        """One page of the board and the number of students on it."""
        await self._ensure(period)
        rows = await self._redis.zrevrange(self._key(period), offset, offset + limit - 1, withscores=True)
        scores = [(uuid.UUID(member), int(score)) for member, score in rows if member != MARKER]
        total = max(0, int(await self._redis.zcard(self._key(period))) - 1)
        if not scores:
            return [], total
        higher = int(await self._redis.zcount(self._key(period), f"({scores[0][1]}", "+inf"))
        standings, rank = [], higher + 1
        for place, (student_id, xp) in enumerate(scores):
            if place and xp != scores[place - 1][1]:
                rank = offset + place + 1
            standings.append(Standing(student_id, xp, rank))
        return standings, total

    async def scores(self, period: Period, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """XP of these students in the period (0 for those without any)."""
        if not student_ids:
            return {}
        await self._ensure(period)
        values = await self._redis.zmscore(self._key(period), [str(s) for s in student_ids])
        return {student_id: int(value or 0) for student_id, value in zip(student_ids, values)}

    async def standing(self, period: Period, student_id: uuid.UUID) -> Standing | None:
        await self._ensure(period)
        score = await self._redis.zscore(self._key(period), str(student_id))
        if score is None:
            return None
        higher = int(await self._redis.zcount(self._key(period), f"({score}", "+inf"))
        return Standing(student_id, int(score), higher + 1)

    async def _ensure(self, period: Period) -> None:
        await self._drop_stale()
        if await self._redis.zscore(self._key(period), MARKER) is None:
            await self.rebuild(period)

    async def rebuild(self, period: Period) -> None:
        """The board from the XP ledger, swapped in whole (a concurrent rebuild gives the same)."""
        query = select(XpEntry.student_id, func.sum(XpEntry.amount)).group_by(XpEntry.student_id)
        if period.starts_at is not None:
            query = query.where(XpEntry.occurred_at >= period.starts_at, XpEntry.occurred_at < period.ends_at)
        async with self._sessions() as session:
            totals = {str(student_id): int(total) for student_id, total in await session.execute(query)}
        temporary = f"{self._key(period)}:build:{uuid.uuid4().hex}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(temporary, {MARKER: float("-inf"), **totals})
        pipe.expire(temporary, self._ttl)
        pipe.rename(temporary, self._key(period))
        await pipe.execute()
        metrics.LEADERBOARD_REBUILDS.labels(period.name).inc()
        log.info("leaderboard %s rebuilt from the ledger (%d students)", self._key(period), len(totals))
