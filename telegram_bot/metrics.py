"""Counters of the bot."""
from prometheus_client import Counter

UPDATES = Counter("repitbot_bot_updates_total", "Telegram updates, by outcome (handled, duplicate, failed)",
                  ["outcome"])
API_CALLS = Counter("repitbot_bot_api_calls_total", "Gateway calls of the bot, by status class", ["status"])
TELEGRAM_RETRIES = Counter("repitbot_bot_telegram_retries_total", "Bot API calls repeated after a 429")
UNLINKED = Counter("repitbot_bot_chats_unlinked_total", "Chats unlinked, by reason (logout, blocked, refused)",
                   ["reason"])
