"""The Telegram bot (aiogram 3): the platform in a chat, a client of the gateway's public API only."""
