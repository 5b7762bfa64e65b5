"""One router per feature; `all_routers()` in the order they are tried (the fallback last)."""
from __future__ import annotations

from aiogram import Router


def all_routers() -> list[Router]:
    from telegram_bot.routers import (
        assign,
        errors,
        fallback,
        homework,
        lessons,
        money,
        people,
        private,
        progress,
        start,
        words,
    )
    return [errors.router, private.router, start.router, lessons.router, homework.router, assign.router,
            words.router, money.router, people.router, progress.router, fallback.router]
