from urllib.parse import unquote

import pytest

from shared.downloads import ByteRange, Unsatisfiable, content_disposition, parse_range


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes=0-99", ByteRange(0, 99)),
    ("bytes=100-", ByteRange(100, 999)),
    ("bytes=-100", ByteRange(900, 999)),
    ("bytes=-5000", ByteRange(0, 999)),          # a suffix longer than the file is the whole file
    ("bytes=990-5000", ByteRange(990, 999)),     # clipped to the end
    ("BYTES = 5 - 5", ByteRange(5, 5)),
    (None, None),
    ("bytes=0-1,5-9", None),                      # several ranges: answered with the whole file
    ("bytes=9-1", None),                          # invalid, so ignored
    ("items=0-9", None),
    ("bytes=-", None),
])
def test_one_range_is_read_and_clipped_to_the_file(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_ranges_past_the_end_are_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


def test_an_empty_file_satisfies_no_range():
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=-10", 0)


def test_an_ascii_name_is_sent_as_it_is():
    assert content_disposition("report 2026.pdf") == 'attachment; filename="report 2026.pdf"'
    assert content_disposition("a.png", inline=True) == 'inline; filename="a.png"'


def test_a_cyrillic_name_gets_an_ascii_fallback_and_the_exact_name_in_utf8():
    header = content_disposition("Домашка №3.docx")
    kind, fallback, extended = (p.strip() for p in header.split(";"))
    assert kind == "attachment"
    assert fallback.startswith('filename="') and fallback.isascii() and fallback.endswith('.docx"')
    assert extended.startswith("filename*=UTF-8''")
    assert unquote(extended.removeprefix("filename*=UTF-8''")) == "Домашка №3.docx"


def test_quotes_newlines_and_directories_cannot_break_the_header():
    header = content_disposition('../../x"; filename="evil.exe\r\nSet-Cookie: a=b')
    assert "\r" not in header and "\n" not in header
    fallback = header.split("; ")[1]
    assert fallback.count('"') == 2 and "/" not in fallback
