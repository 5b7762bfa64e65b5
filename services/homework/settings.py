from shared.settings import Settings


class HomeworkSettings(Settings):
    """Settings of the homework service."""
