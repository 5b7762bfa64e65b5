"""The material service's own settings; the common ones come from `shared.settings.Settings`.
Each field is read from the environment variable of its name in capitals (and listed in `.env.example`)."""
from shared.settings import Settings


class MaterialSettings(Settings):
    """Settings of the material service."""
