"""The level curve: how much total XP each level needs (the `levels` section of a rule set,
see `rules/default.yaml`)."""
from __future__ import annotations

import math
from bisect import bisect_right
from typing import Literal

CurveKind = Literal["power", "geometric"]

DEFAULT_LEVEL_XP_THRESHOLD = 1000
XP_MULTIPLIER = 1.5
MAX_LEVEL = 100
_FLOAT_SLACK = 1e-9  # so that 27,000.000000000004 and 26,999.999999999996 both give 27,000


class LevelCurve:
    """Total XP needed for each level; level 1 is free, the last level is `max_level`.

    `power` (default): xp(L) = threshold * (L - 1) ** multiplier, rounded down: the spec's
    own figures (level 100 at 985,037 for 985,037.56) round down, so its "round" means that.
    `geometric`: the step from level L to L + 1 costs `multiplier` times the previous step,
    the first step costing `threshold`.
    """

    def __init__(
        self,
        kind: CurveKind = "power",
        threshold: int = DEFAULT_LEVEL_XP_THRESHOLD,
        multiplier: float = XP_MULTIPLIER,
        max_level: int = MAX_LEVEL,
    ) -> None:
        if kind not in ("power", "geometric"):
            raise ValueError(f"unknown level curve kind {kind!r} (expected 'power' or 'geometric')")
        if threshold <= 0 or multiplier <= 0 or max_level < 2:
            raise ValueError("a level curve needs threshold > 0, multiplier > 0 and max_level >= 2")
        self.kind: CurveKind = kind
        self.threshold = threshold
        self.multiplier = multiplier
        self.max_level = max_level
        try:
            self._thresholds = [0] + [self._total_xp(level) for level in range(2, max_level + 1)]
        except OverflowError:
            raise ValueError(f"level curve overflows: level {max_level} would need more XP than can be "
                             "counted (lower the multiplier or max_level)") from None
        for level in range(2, max_level + 1):
            if self._thresholds[level - 1] <= self._thresholds[level - 2]:
                raise ValueError(
                    f"level curve is not increasing: level {level} needs "
                    f"{self._thresholds[level - 1]} XP, level {level - 1} needs {self._thresholds[level - 2]}"
                )

    def _total_xp(self, level: int) -> int:
        steps = level - 1
        if self.kind == "power":
            exact = self.threshold * steps ** self.multiplier
        elif self.multiplier == 1:
            exact = self.threshold * steps
        else:
            exact = self.threshold * (self.multiplier ** steps - 1) / (self.multiplier - 1)
        return math.floor(exact + _FLOAT_SLACK)

    def xp_for_level(self, level: int) -> int:
        """Total XP needed to reach `level` (0 for level 1; levels past the cap cost as the cap)."""
        level = min(max(level, 1), self.max_level)
        return self._thresholds[level - 1]

    def level_for_xp(self, xp: int) -> int:
        """The highest level whose threshold `xp` reaches, at most `max_level`."""
        return max(1, bisect_right(self._thresholds, xp))

    def progress(self, xp: int) -> tuple[int, int, int]:
        """(level, XP earned inside that level, XP the whole level spans; 0 at the cap)."""
        level = self.level_for_xp(xp)
        into_level = xp - self.xp_for_level(level)
        if level == self.max_level:
            return level, into_level, 0
        return level, into_level, self.xp_for_level(level + 1) - self.xp_for_level(level)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "threshold": self.threshold,
            "multiplier": self.multiplier,
            "max_level": self.max_level,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LevelCurve) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict().values()))

    def __repr__(self) -> str:
        return f"LevelCurve({self.kind!r}, threshold={self.threshold}, multiplier={self.multiplier}, max_level={self.max_level})"
