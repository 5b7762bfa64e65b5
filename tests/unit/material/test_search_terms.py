"""The words the embedded search indexes and looks for: Snowball stems, Russian for Cyrillic words."""
from services.material.search import SqliteSearch, stem, stems, words


def test_words_are_lowered_and_yo_is_e():
    assert words("Ёлка, PRESENT-simple!") == ["елка", "present", "simple"]


def test_inflected_forms_share_a_stem_in_both_languages():
    assert stem("дробей") == stem("дроби") == stem("дробь")
    assert stem("exercises") == stem("exercise")
    assert stems("Сложение дробей") == f"{stem('сложение')} {stem('дробей')}"


def test_a_query_without_words_matches_nothing_rather_than_everything():
    assert SqliteSearch().matches("!!! ...") is None
    assert SqliteSearch().matches("дробь") is not None
