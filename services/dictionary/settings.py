from shared.settings import Settings


class DictionarySettings(Settings):
    """Settings of the dictionary service."""
