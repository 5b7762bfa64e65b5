"""Business counters of the student service (the teacher dashboard queries these names)."""
from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

from services.student.engine import Outcome

XP_AWARDED = Counter("repitbot_xp_awarded_total", "XP awarded to students, by source", ["source"])
ACHIEVEMENTS_AWARDED = Counter("repitbot_achievements_awarded_total", "Achievements awarded, by tier", ["tier"])
LEVEL_UPS = Counter("repitbot_level_ups_total", "Level changes of students (one per student.level_up)")
LEADERBOARD_REBUILDS = Counter("repitbot_leaderboard_rebuilds_total", "Leaderboards rebuilt from the XP ledger",
                               ["period"])
LEADERBOARD_UPDATE_FAILURES = Counter("repitbot_leaderboard_update_failures_total",
                                      "Leaderboard increments Redis refused (the boards are dropped and rebuilt)")
RULE_CHANGES = Counter("repitbot_gamification_rule_changes_total", "Rule sets applied by admins")


def count(outcomes: Iterable[Outcome]) -> None:
    """Count what committed outcomes awarded."""
    for outcome in outcomes:
        for award in outcome.xp_awards:
            XP_AWARDED.labels(award.source).inc(award.amount)
        for earned in outcome.achievements:
            ACHIEVEMENTS_AWARDED.labels(earned.tier).inc()
        if outcome.level_change:
            LEVEL_UPS.inc()
