"""The dictionary service's own settings; the common ones come from `shared.settings.Settings`.
Each field is read from the environment variable of its name in capitals (and listed in `.env.example`)."""
from pydantic import Field

from shared.settings import Settings


class DictionarySettings(Settings):
    """Settings of the dictionary service."""

    # a card counts as learned once its FSRS stability (days) reaches this
    dictionary_learned_stability_days: float = Field(21.0, gt=0)
    # FSRS spreads review intervals of 3 days and more by a few percent, as Anki does, so
    # that cards learned together do not all fall due on the same day
    dictionary_fsrs_fuzzing: bool = True
    dictionary_import_max_bytes: int = Field(5 * 1024 * 1024, gt=0)    # one CSV or TSV file
    dictionary_import_max_rows: int = Field(20_000, gt=0)
    dictionary_audio_max_bytes: int = Field(5 * 1024 * 1024, gt=0)     # an uploaded pronunciation
    dictionary_image_max_bytes: int = Field(5 * 1024 * 1024, gt=0)
    # the speech synthesiser and the Opus encoder; a missing one makes audio generation answer 503
    dictionary_espeak_path: str = "espeak-ng"
    dictionary_opusenc_path: str = "opusenc"
    dictionary_audio_timeout_seconds: float = Field(20.0, gt=0)
