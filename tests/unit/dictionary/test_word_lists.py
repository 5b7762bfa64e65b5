"""Reading word lists as spreadsheets write them, and writing them back."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dictionary import csvfile
from shared.errors import Unprocessable


def test_a_russian_excel_export_is_read_with_its_encoding_delimiter_and_header():
    text = "Перевод;Слово;Теги\r\nкошка;cat;animals pets\r\n\r\nсобака;dog;\r\n"
    parsed = csvfile.parse(text.encode("cp1251"), max_rows=100)
    assert (parsed.encoding, parsed.delimiter, parsed.header) == ("cp1251", ";", True)
    assert [(r.line, r.term, r.translation, r.tags) for r in parsed.rows] == [
        (2, "cat", "кошка", ["animals", "pets"]), (4, "dog", "собака", [])]


def test_utf8_with_a_byte_order_mark_and_no_header_takes_the_columns_in_order():
    parsed = csvfile.parse("\ufeffcat,кошка,A cat sat.,kæt,pets\n".encode(), max_rows=10)
    assert (parsed.encoding, parsed.header) == ("utf-8", False)
    row = parsed.rows[0]
    assert (row.term, row.translation, row.example, row.transcription, row.tags) == (
        "cat", "кошка", "A cat sat.", "kæt", ["pets"])


def test_each_bad_line_is_named_with_its_number_and_reason_and_a_quoted_newline_counts_as_lines():
    text = 'term\ttranslation\n"two\nlines"\tдве строки\n\tнет термина\nonly\n' + "x" * 501 + "\ty\n"
    parsed = csvfile.parse(text.encode(), max_rows=10)
    assert [r.line for r in parsed.rows] == [2]
    assert [(b.line, b.reason) for b in parsed.bad] == [
        (4, "no term"), (5, "no translation"), (6, "the term is longer than 500 characters")]


def test_files_that_are_no_text_or_too_long_are_refused():
    with pytest.raises(Unprocessable):
        csvfile.parse(b"\x00\x01\x02\xff\xfe\x00" * 100, max_rows=10)
    with pytest.raises(Unprocessable):
        csvfile.parse(b"a,b\nc,d\ne,f\n", max_rows=2)


words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1,
                max_size=20).filter(lambda s: s.strip() and s.strip() == s)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(words, words, st.none() | words), min_size=1, max_size=10))
def test_an_export_reads_back_as_the_same_cards(cards):
    written = csvfile.write((term, translation, example, None, []) for term, translation, example in cards)
    parsed = csvfile.parse(written, max_rows=100)
    assert parsed.bad == [] and parsed.header
    assert [(r.term, r.translation, r.example) for r in parsed.rows] == list(cards)


def test_an_anki_package_reads_back_its_notes_by_field_name():
    import uuid

    from services.dictionary import anki

    notes = [anki.NoteData(uuid.uuid4(), "cat & dog", "кошка <и> собака", "kæt", "It rains cats.", ["pets"]),
             anki.NoteData(uuid.uuid4(), "sun", "солнце", None, None, [])]
    package = anki.build(uuid.uuid4(), "Deck", None, notes)
    assert anki.is_package(package)
    parsed = anki.read_package(package, max_rows=10)
    assert [(r.line, r.term, r.translation, r.transcription, r.example, r.tags) for r in parsed.rows] == [
        (1, "cat & dog", "кошка <и> собака", "kæt", "It rains cats.", ["pets"]), (2, "sun", "солнце", None, None, [])]
    with pytest.raises(Unprocessable):
        anki.read_package(b"PK\x03\x04 not really a zip", max_rows=10)
