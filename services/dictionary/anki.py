"""A deck as an Anki package (`.apkg`, made by `genanki`): one note per card, with the uploaded
pronunciations and pictures as the package's media. Note ids (GUIDs) come from the card ids, so
importing a newer export into Anki updates the notes instead of doubling them."""
from __future__ import annotations

import html
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import anyio
import genanki

from services.dictionary.domain import anki_deck_id

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
