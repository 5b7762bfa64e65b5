from shared.settings import Settings


class MaterialSettings(Settings):
    """Settings of the material service."""
