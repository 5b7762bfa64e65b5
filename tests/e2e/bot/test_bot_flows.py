"""The bot, driven through the fake Bot API, against the embedded platform."""
from __future__ import annotations


async def test_a_student_links_by_deep_link_and_sees_the_schedule(bot_platform):
    student = await bot_platform.account("student", "Анна Смирнова")
    chat = await bot_platform.linked_chat(student)
    await chat.ask("/schedule", "Занятия на неделе")
    print(bot_platform.telegram.transcript())
