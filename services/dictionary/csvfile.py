"""Word lists as CSV or TSV, in and out, without I/O.

Reading takes what spreadsheets write: UTF-8 with or without a byte order mark, or another
encoding (a Russian Excel's Windows-1251) found by `charset-normalizer`; the delimiter (comma,
semicolon, tab or bar) found by `csv.Sniffer`; a header row recognised by its column names (in
English or Russian), else the columns in the order term, translation, example, transcription,
tags. Every line that cannot be a card is reported with its number and the reason.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

import charset_normalizer

from shared.errors import Unprocessable

COLUMNS = ("term", "translation", "example", "transcription", "tags")
LIMITS = {"term": 500, "translation": 1000, "example": 5000, "transcription": 500, "tags": 1000}
DELIMITERS = ",;\t|"
HEADER_NAMES = {
    "term": {"term", "word", "front", "слово", "термин", "выражение"},
    "translation": {"translation", "meaning", "back", "перевод", "значение"},
    "example": {"example", "examples", "sentence", "пример", "примеры"},
    "transcription": {"transcription", "pronunciation", "ipa", "транскрипция", "произношение"},
    "tags": {"tags", "tag", "теги", "метки"},
}


@dataclass(frozen=True)
class Row:
    line: int
    term: str
    translation: str
    example: str | None = None
    transcription: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str


@dataclass(frozen=True)
class Parsed:
    rows: list[Row]
    bad: list[BadLine]
    encoding: str
    delimiter: str
    header: bool


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of its encoding; 422 for bytes that are no text."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None or "\x00" in str(best):
        raise Unprocessable("The file is not text in a known encoding",
                            errors=[{"loc": ["body", "file"], "msg": "not a CSV or TSV text"}])
    return str(best), best.encoding


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = next((line for line in text.splitlines() if line.strip()), "")
        counts = {d: first.count(d) for d in DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def header_columns(cells: list[str]) -> list[str | None] | None:
    """The column each header cell names, or None when the row is not a header."""
    names = [_column_named(cell) for cell in cells]
    known = [n for n in names if n]
    if "term" in known and "translation" in known and len(set(known)) == len(known):
        return names
    return None


def _column_named(cell: str) -> str | None:
    folded = cell.strip().strip("#").strip().casefold()
    return next((column for column, names in HEADER_NAMES.items() if folded in names), None)


def parse(data: bytes, *, max_rows: int) -> Parsed:
    """The cards a file holds and its bad lines (blank lines are neither)."""
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[Row] = []
    bad: list[BadLine] = []
    columns: list[str | None] = list(COLUMNS)
    header = False
    line = 1
    for cells in _records(reader):
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if not rows and not bad and not header and (named := header_columns(cells)) is not None:
            columns, header = named, True
            continue
        if len(rows) >= max_rows:
            raise Unprocessable(f"A file holds at most {max_rows} cards",
                                errors=[{"loc": ["body", "file"], "msg": f"more than {max_rows} rows"}])
        row = _row(start, cells, columns)
        (rows if isinstance(row, Row) else bad).append(row)
    return Parsed(rows, bad, encoding, delimiter, header)


def _records(reader: Iterable[list[str]]) -> Iterable[list[str]]:
    try:
        yield from reader
    except csv.Error as exc:   # a NUL byte, a field past the csv module's limit
        raise Unprocessable(f"The file cannot be read as CSV: {exc}",
                            errors=[{"loc": ["body", "file"], "msg": str(exc)}]) from exc


def _row(line: int, cells: list[str], columns: list[str | None]) -> Row | BadLine:
    extra = [c for c in cells[len(columns):] if c.strip()]
    if extra:
        return BadLine(line, f"{len(cells)} columns, at most {len(columns)} expected")
    values = {name: cell.strip() for name, cell in zip(columns, cells, strict=False) if name}
    return make_row(line, values, split_tags(values.get("tags", "")))


def make_row(line: int, values: dict[str, str], tags: list[str]) -> Row | BadLine:
    """A card from the named values of one line, or why it cannot be one."""
    for name in ("term", "translation"):
        if not values.get(name):
            return BadLine(line, f"no {name}")
    for name, value in values.items():
        if len(value) > LIMITS[name]:
            return BadLine(line, f"the {name} is longer than {LIMITS[name]} characters")
    return Row(line, values["term"], values["translation"], values.get("example") or None,
               values.get("transcription") or None, tags)


def split_tags(value: str) -> list[str]:
    return [tag for tag in value.replace(",", " ").split() if tag]


def write(rows: Iterable[tuple[str, str, str | None, str | None, list[str]]], *, delimiter: str = ",") -> bytes:
    """A CSV with a header row, in UTF-8 with a byte order mark (so Excel reads it as UTF-8)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for term, translation, example, transcription, tags in rows:
        writer.writerow([term, translation, example or "", transcription or "", " ".join(tags)])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
