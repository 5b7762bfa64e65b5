"""The active rule set of this service: stored in versions (the highest is active), cached per process."""
from __future__ import annotations

import time
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.student.levels import LevelCurve
from services.student.models import RuleSetVersion
from services.student.ruleset import RuleSet, load_default_ruleset, parse_ruleset
from services.student.settings import StudentSettings
from shared.sql import insert_for


class RuleBook:
    """The active rule set (the highest stored version) and its level curve, cached per process.

    Another instance's change is seen within `rules_refresh_seconds`, or at once when a student's
    stored state says it was already handled under a newer version (`active(at_least=...)`).
    """

    def __init__(self, settings: StudentSettings) -> None:
        self._settings = settings
        self.ruleset: RuleSet | None = None
        self.curve: LevelCurve | None = None
        self._checked_at = 0.0

    async def active(self, session: AsyncSession, *, at_least: int | None = None) -> tuple[RuleSet, LevelCurve]:
        stale = time.monotonic() - self._checked_at > self._settings.rules_refresh_seconds
        behind = at_least is not None and self.ruleset is not None and at_least > self.ruleset.version
        if self.ruleset is None or stale or behind:
            await self.refresh(session)
        assert self.ruleset is not None and self.curve is not None
        return self.ruleset, self.curve

    async def refresh(self, session: AsyncSession) -> None:
        latest = await session.scalar(select(func.max(RuleSetVersion.version)))
        if latest is None:
            raise RuntimeError("no rule set stored; the service seeds one at start-up")
        if self.ruleset is None or latest != self.ruleset.version:
            row = await session.get(RuleSetVersion, latest)
            assert row is not None
            self.use(parse_ruleset(row.document))
        self._checked_at = time.monotonic()

    def use(self, ruleset: RuleSet) -> None:
        self.ruleset, self.curve = ruleset, self.curve_of(ruleset)
        self._checked_at = time.monotonic()

    def curve_of(self, ruleset: RuleSet) -> LevelCurve:
        """The rule set's curve, with the settings' DEFAULT_LEVEL_XP_THRESHOLD, XP_MULTIPLIER,
        MAX_LEVEL and LEVEL_CURVE taking precedence when set."""
        base, s = ruleset.document.level_curve, self._settings
        return LevelCurve(kind=s.level_curve or base.kind,
                          threshold=s.default_level_xp_threshold or base.threshold,
                          multiplier=s.xp_multiplier or base.multiplier,
                          max_level=s.max_level or base.max_level)


async def seed_default(session: AsyncSession) -> None:
    """Store the shipped rule set as version 1 when no version is stored (idempotent, race-safe)."""
    default = load_default_ruleset()
    await session.execute(insert_for(session, RuleSetVersion)
                          .values(version=1, document={**default.to_dict(), "version": 1}, created_by=None)
                          .on_conflict_do_nothing())


async def store_version(session: AsyncSession, ruleset: RuleSet, by: uuid.UUID | None) -> RuleSetVersion:
    row = RuleSetVersion(version=ruleset.version, document=ruleset.to_dict(), created_by=by)
    session.add(row)
    await session.flush()
    return row


async def latest_version(session: AsyncSession) -> RuleSetVersion:
    row = await session.scalar(select(RuleSetVersion).order_by(RuleSetVersion.version.desc()).limit(1))
    assert row is not None
    return row
