"""The API gateway: the one door of the platform for the bot, web and mobile clients."""
