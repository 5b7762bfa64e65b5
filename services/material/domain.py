"""The rules of a material: who sees it, who changes it, what its fields may hold, what can be
previewed and at what size. No I/O."""
from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from shared.errors import NotFound

TITLE_MAX = 200
SUBJECT_MAX = 200
DESCRIPTION_MAX = 5000
TAG_MAX = 50
TAGS_MAX = 20
GRADE_MIN, GRADE_MAX = 1, 12
FILENAME_MAX = 255


class Visibility(StrEnum):
    PRIVATE = "private"     # the owner alone (and the students it is shared with)
    STUDENTS = "students"   # the owner's linked students and their parents
    PUBLIC = "public"       # every user


class PreviewStatus(StrEnum):
    PENDING = "pending"         # the upload returned; the worker has not finished yet
    READY = "ready"
    UNAVAILABLE = "unavailable"  # not a previewable kind, or the file could not be rendered


class Seen(Protocol):
    """What the access rule reads of a material."""

    owner_id: uuid.UUID
    visibility: str


@dataclass(frozen=True)
class Viewer:
    """A user and the people through whom they may see materials: a student is their own
    "student", a parent has their children; `teachers` are those students' teachers."""

    id: uuid.UUID
    role: str
    students: frozenset[uuid.UUID] = frozenset()
    teachers: frozenset[uuid.UUID] = frozenset()


def may_see(viewer: Viewer, material: Seen, shared_with: Collection[uuid.UUID] = ()) -> bool:
    """The owner sees theirs; `public` is for everyone; `students` for the owner's linked students
    and their parents; a material shared with a student is seen by that student and their parents."""
    if material.owner_id == viewer.id or material.visibility == Visibility.PUBLIC:
        return True
    if material.visibility == Visibility.STUDENTS and material.owner_id in viewer.teachers:
        return True
    return any(student in viewer.students for student in shared_with)


def ensure_visible(viewer: Viewer, material: Seen | None, shared_with: Collection[uuid.UUID] = ()) -> None:
    """404, not 403, for anything the viewer may not see: its existence is not theirs to learn."""
    if material is None or not may_see(viewer, material, shared_with):
        raise NotFound("No such material")


def ensure_owner(viewer_id: uuid.UUID, material: Seen | None) -> None:
    """Only the owner changes a material; to anyone else it does not exist (or is read-only: 404
    either way, so that a write does not reveal what a read would not)."""
    if material is None or material.owner_id != viewer_id:
        raise NotFound("No such material")


def normalize_tags(raw: Iterable[str]) -> list[str]:
    """Tags as given, split on commas too, trimmed, lower-cased, deduplicated, in order;
    ValueError for too long a tag or too many."""
    tags: list[str] = []
    for value in raw:
        for piece in value.split(","):
            tag = " ".join(unicodedata.normalize("NFC", piece).split()).lower()
            if not tag:
                continue
            if len(tag) > TAG_MAX:
                raise ValueError(f"a tag has at most {TAG_MAX} characters")
            if tag not in tags:
                tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise ValueError(f"at most {TAGS_MAX} tags")
    return tags


def subject_key(subject: str) -> str:
    """A subject as filters compare it: case and spacing do not matter, in any alphabet."""
    return " ".join(subject.split()).casefold()


def clean_filename(name: str | None, fallback: str) -> str:
    """The original name as a download may offer it again: no path, no control characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C").strip()
    name = name.strip(". ") or fallback
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: FILENAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:FILENAME_MAX]
    return name


def default_filename(title: str, extension: str | None) -> str:
    base = re.sub(r"[^\w\- ]+", "", title).strip() or "material"
    return f"{base[:100]}.{extension}" if extension else base[:100]


def preview_kind(content_type: str) -> str | None:
    """Which renderer makes the preview of a file of this type, if any."""
    if content_type == "application/pdf":
        return "pdf"
    if content_type in {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"}:
        return "image"
    return None


def thumbnail_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size of a preview: the long side `long_side` at most, the aspect ratio kept, never upscaled."""
    if width <= 0 or height <= 0:
        raise ValueError("an image has a positive size")
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))
