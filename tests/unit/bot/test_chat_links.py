"""In embedded mode the bot's Redis is in-process: the chat links are kept in a file as well, so
that a restart of `repitbot run` does not unlink every chat."""
from __future__ import annotations

import fakeredis

from telegram_bot.chats import ChatLink, Chats


def _chats(links_file) -> Chats:
    return Chats(fakeredis.FakeAsyncRedis(), update_ttl=60, links_file=links_file)


async def test_a_link_outlives_the_process_and_an_unlink_too(tmp_path):
    links_file = tmp_path / "bot-chats.json"
    link = ChatLink(chat_key="k" * 43, user_id="6b0c3f2e-2f6c-4d8e-9a51-1f0f3c7a9e11", role="student")
    before = _chats(links_file)
    await before.save(1001, link)
    await before.save(1002, ChatLink(chat_key="q" * 43, user_id="other", role="parent"))

    after_restart = _chats(links_file)
    assert await after_restart.link(1001) == link
    await after_restart.forget(1001)

    again = _chats(links_file)
    assert await again.link(1001) is None
    assert (await again.link(1002)).role == "parent"
    assert links_file.stat().st_mode & 0o077 == 0      # the keys act for their users

