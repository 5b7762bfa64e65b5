"""An upload's form, read as a stream (`shared.uploads.multipart_parts`): the file part goes
straight to storage (content-addressed, size-limited, type sniffed from the bytes), the text
parts are collected and validated once the body has been read, in whatever order they came.
Anything refused leaves no new file behind (`storage.batch`)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.requests import Request

from services.material.domain import clean_filename, default_filename
from services.material.schemas import NO_NUL, MaterialCreate
from services.material.settings import MaterialSettings
from shared.errors import Unprocessable, UnsupportedMediaType
from shared.storage import Batch, StoredFile
from shared.uploads import multipart_form_body, multipart_parts

TEXT_FIELDS = ("title", "subject", "grade_level", "description", "tags", "visibility")
FIELD_MAX_BYTES = 32_000
MAX_PARTS = 64
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
              "image/gif": "gif", "text/plain": "txt", "audio/mpeg": "mp3", "video/mp4": "mp4"}

FORM_BODY = multipart_form_body(
    files={"file": "The material: a document, image, recording or video (the type is read from its bytes)"},
    fields={"title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL},
            "subject": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NO_NUL},
            "grade_level": {"type": "integer", "minimum": 1, "maximum": 12},
            "description": {"type": "string", "maxLength": 5000, "pattern": NO_NUL},
            "tags": {"type": "string", "maxLength": 50, "pattern": NO_NUL,
                     "description": "A tag, or several separated by commas"},
            "visibility": {"type": "string", "enum": ["private", "students", "public"], "default": "private"}},
    required=("file", "title", "subject"), multiple=("tags",))


@dataclass(frozen=True)
class Upload:
    data: MaterialCreate
    stored: StoredFile
    filename: str


async def read_upload(request: Request, batch: Batch, settings: MaterialSettings) -> Upload:
    """The validated fields and the stored file of an upload form: 413 past the size limit, 415
    for a type not accepted, 422 for an empty file, a missing part or an invalid field."""
    fields: dict[str, list[str]] = defaultdict(list)
    stored: StoredFile | None = None
    filename: str | None = None
    async for part in multipart_parts(request, max_bytes=settings.material_max_bytes, max_parts=MAX_PARTS):
        if part.name == "file":
            if stored is not None:
                raise _invalid("file", "one file per material")
            stored = await _save(part.chunks(), batch, settings)
            filename = part.filename
        elif part.name in TEXT_FIELDS:
            fields[part.name].append(await part.text(FIELD_MAX_BYTES))
    if stored is None:
        raise _invalid("file", "Field required")
    data = _validated(fields)
    extension = EXTENSIONS.get(stored.content_type)
    return Upload(data, stored, clean_filename(filename, default_filename(data.title, extension)))


async def _save(chunks: AsyncIterator[bytes], batch: Batch, settings: MaterialSettings) -> StoredFile:
    counted = _Counted(chunks)
    try:
        return await batch.save(counted, max_bytes=settings.material_max_bytes,
                                allowed_types=settings.accepted_types())
    except UnsupportedMediaType:
        if counted.size == 0:
            raise _invalid("file", "The file is empty") from None
        raise


class _Counted:
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks, self.size = chunks, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.size += len(chunk)
            yield chunk


def _validated(fields: dict[str, list[str]]) -> MaterialCreate:
    values: dict[str, object] = {name: values[-1] for name, values in fields.items() if name != "tags"}
    values = {name: (None if value == "" and name in ("grade_level", "description") else value)
              for name, value in values.items()}
    try:
        return MaterialCreate.model_validate({**values, "tags": fields.get("tags", [])})
    except ValidationError as exc:
        errors = [{"loc": ["body", *(str(p) for p in err["loc"])], "msg": err["msg"]} for err in exc.errors()]
        raise Unprocessable("The upload's fields are invalid", errors=errors) from None


def _invalid(field: str, msg: str) -> Unprocessable:
    detail = msg if msg != "Field required" else f"The form has no part named {field!r}"
    return Unprocessable(detail, errors=[{"loc": ["body", field], "msg": msg}])
