"""How the bot words what the API answers: short lines in the reader's language and time zone."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from telegram_bot.gateway import Leaderboard, Lesson, Profile

BAR_CELLS = 10


def status_label(status: str) -> str:
    return {"scheduled": _("scheduled"), "in_progress": _("in progress"), "completed": _("completed"),
            "cancelled": _("cancelled"), "assigned": _("assigned"), "overdue": _("overdue"),
            "submitted": _("submitted"), "graded": _("graded")}.get(status, status)


def local(moment: datetime, timezone: str) -> datetime:
    return moment.astimezone(ZoneInfo(timezone))


def lesson_line(lesson: Lesson, timezone: str, *, with_day: bool = True) -> str:
    start = local(lesson.starts_at, timezone)
    when = start.strftime("%d.%m %H:%M") if with_day else start.strftime("%H:%M")
    minutes = _("{minutes} min").format(minutes=lesson.duration_minutes)
    line = f"{when} · {lesson.subject}: {lesson.title} ({minutes}) — "
    line += status_label(lesson.status)
    if lesson.score is not None:
        line += " · " + _("score {score}").format(score=lesson.score)
    return line


def schedule(lessons: list[Lesson], timezone: str, title: str, names: dict | None = None) -> str:
    if not lessons:
        return f"{title}\n" + _("No lessons.")
    lines = [title]
    for lesson in lessons:
        who = f" — {names[lesson.student_id]}" if names and lesson.student_id in names else ""
        lines.append(lesson_line(lesson, timezone) + who)
    return "\n".join(lines)


def xp_bar(into: int, span: int) -> str:
    filled = BAR_CELLS if span <= 0 else min(BAR_CELLS, into * BAR_CELLS // span)
    return "▰" * filled + "▱" * (BAR_CELLS - filled)


def progress(profile: Profile, name: str | None = None) -> str:
    head = f"{name}\n" if name else ""
    return head + "\n".join([
        _("Level {level} · {xp} XP").format(level=profile.level, xp=profile.xp),
        f"{xp_bar(profile.xp_into_level, profile.xp_for_next_level)} "
        f"{profile.xp_into_level}/{profile.xp_for_next_level}",
        _("Streak: {days} days").format(days=profile.streak_days),
        _("Achievements: {count}").format(count=profile.achievements_earned),
    ])


def leaderboard(board: Leaderboard) -> str:
    lines = [_("Leaderboard, {period}").format(period=board.period_label)]
    lines += [f"{row.rank}. {row.name} — {row.xp} XP" for row in board.items] or [_("Nobody yet.")]
    if board.me and all(row.student_id != board.me.student_id for row in board.items):
        lines.append(f"…\n{board.me.rank}. {board.me.name} — {board.me.xp} XP")
    return "\n".join(lines)
