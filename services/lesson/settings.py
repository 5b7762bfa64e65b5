from shared.settings import Settings


class LessonSettings(Settings):
    """Settings of the lesson service."""

    # how far back the iCalendar feed reaches; calendar apps keep what they fetched before
    lesson_feed_past_days: int = 90
    lesson_feed_max_events: int = 2000
