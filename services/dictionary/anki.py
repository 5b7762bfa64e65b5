"""A deck as an Anki package (`.apkg`, made by `genanki`): one note per card, with the uploaded
pronunciations and pictures as the package's media. Note ids (GUIDs) come from the card ids, so
importing a newer export into Anki updates the notes instead of doubling them."""
from __future__ import annotations

import html
import io
import json
import re
import sqlite3
import tempfile
import uuid
import zipfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import anyio
import genanki

from services.dictionary import csvfile
from services.dictionary.domain import anki_deck_id
from shared.errors import Unprocessable

MODEL_ID = 1_607_392_319   # one fixed note type for every export: Anki merges it across imports
CSS = ".card { font-family: sans-serif; font-size: 24px; text-align: center; } .small { font-size: 16px; color: #666; }"
MODEL = genanki.Model(
    MODEL_ID, "RepitBot word",
    fields=[{"name": "Term"}, {"name": "Translation"}, {"name": "Transcription"}, {"name": "Example"},
            {"name": "Audio"}, {"name": "Image"}],
    templates=[{
        "name": "Term → translation",
        "qfmt": "{{Term}}<br><span class=small>{{Transcription}}</span>{{Audio}}",
        "afmt": "{{FrontSide}}<hr id=answer>{{Translation}}<br>{{Image}}<br><span class=small>{{Example}}</span>",
    }],
    css=CSS)


@dataclass(frozen=True)
class NoteData:
    card_id: uuid.UUID
    term: str
    translation: str
    transcription: str | None
    example: str | None
    tags: list[str]
    audio: tuple[Path, str] | None = None   # the stored file and the extension it gets in the package
    image: tuple[Path, str] | None = None


def _note(data: NoteData, media: list[str], folder: Path) -> genanki.Note:
    audio = image = ""
    if data.audio is not None:
        name = _media(media, folder, data.audio, f"{data.card_id.hex}-audio")
        audio = f"[sound:{name}]"
    if data.image is not None:
        name = _media(media, folder, data.image, f"{data.card_id.hex}-image")
        image = f'<img src="{name}">'
    fields = [html.escape(data.term), html.escape(data.translation), html.escape(data.transcription or ""),
              html.escape(data.example or ""), audio, image]
    return genanki.Note(model=MODEL, fields=fields, tags=data.tags, guid=genanki.guid_for(str(data.card_id)))


def _media(media: list[str], folder: Path, stored: tuple[Path, str], stem: str) -> str:
    """Link the stored file into `folder` under the name the note refers to (Anki names media by file name)."""
    name = f"{stem}.{stored[1]}"
    target = folder / name
    target.symlink_to(stored[0])
    media.append(str(target))
    return name


def build(deck_id: uuid.UUID, title: str, description: str | None, notes: list[NoteData]) -> bytes:
    """The `.apkg` bytes (blocking: run it in a thread)."""
    deck = genanki.Deck(anki_deck_id(deck_id), title, description=html.escape(description or ""))
    with tempfile.TemporaryDirectory(prefix="apkg-") as tmp:
        folder, media = Path(tmp), []
        for data in notes:
            deck.add_note(_note(data, media, folder))
        target = folder / "deck.apkg"
        genanki.Package(deck, media_files=media).write_to_file(str(target))
        return target.read_bytes()


async def build_in_thread(deck_id: uuid.UUID, title: str, description: str | None, notes: list[NoteData]) -> bytes:
    return await anyio.to_thread.run_sync(build, deck_id, title, description, notes)


# --- reading a package's notes (no media, no scheduling: the cards start new here) -----------------
_TAG = re.compile(r"<[^>]*>|\[sound:[^\]]*\]")
_BREAK = re.compile(r"<br\s*/?>|</div>|</p>", re.IGNORECASE)
COLLECTIONS = ("collection.anki21", "collection.anki2")   # the newest first; .anki21b is compressed
MAX_COLLECTION_BYTES = 200 * 1024 * 1024   # unpacked: a few MB of package must not fill the disk


def is_package(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"


def read_package(data: bytes, *, max_rows: int) -> csvfile.Parsed:
    """The notes of an Anki package as rows (blocking: run it in a thread). The fields are taken
    by their names (Front/Term/Слово, Back/Translation/Перевод, Example, Transcription), else the
    first two; HTML and sound references are dropped. A "line" is the note's number."""
    with tempfile.TemporaryDirectory(prefix="apkg-in-") as tmp:
        path = _collection(data, Path(tmp))
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            models = json.loads(db.execute("SELECT models FROM col").fetchone()[0])
            notes = db.execute("SELECT mid, flds, tags FROM notes ORDER BY id").fetchall()
    if len(notes) > max_rows:
        raise Unprocessable(f"A file holds at most {max_rows} cards",
                            errors=[{"loc": ["body", "file"], "msg": f"more than {max_rows} notes"}])
    rows: list[csvfile.Row] = []
    bad: list[csvfile.BadLine] = []
    for number, (model_id, fields, tags) in enumerate(notes, start=1):
        names = _field_columns(models.get(str(model_id), {}))
        values = {name: _text(value) for name, value in zip(names, fields.split("\x1f"), strict=False) if name}
        row = csvfile.make_row(number, values, tags.split())
        (rows if isinstance(row, csvfile.Row) else bad).append(row)
    return csvfile.Parsed(rows, bad, "apkg", "", True)


def _collection(data: bytes, folder: Path) -> Path:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            name = next((n for n in COLLECTIONS if n in package.namelist()), None)
            if name is None:
                raise Unprocessable("The package holds no collection this service reads (export it from "
                                    "Anki with \"Support older Anki versions\")",
                                    errors=[{"loc": ["body", "file"], "msg": "no collection.anki2"}])
            if package.getinfo(name).file_size > MAX_COLLECTION_BYTES:
                raise Unprocessable("The package's collection is too large to import",
                                    errors=[{"loc": ["body", "file"], "msg": "collection over 200 MB"}])
            return Path(package.extract(name, folder))
    except (zipfile.BadZipFile, OSError) as exc:
        raise Unprocessable("The file is not a readable Anki package",
                            errors=[{"loc": ["body", "file"], "msg": str(exc)[:200]}]) from exc


def _field_columns(model: dict) -> list[str | None]:
    names = [field.get("name", "") for field in model.get("flds", [])]
    columns = csvfile.header_columns(names) or []
    if not columns:   # unknown names: the first is the term, the second its translation
        columns = ["term", "translation"] + [None] * max(0, len(names) - 2)
    return columns


def _text(value: str) -> str:
    return html.unescape(_TAG.sub("", _BREAK.sub(" ", value))).strip()
