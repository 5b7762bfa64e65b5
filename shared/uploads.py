"""Uploads read as a stream: who may upload is decided before the body is touched, and reading
stops at the limit, whether the client sent a Content-Length or a chunked body. Every upload
route takes its file this way (`multipart_file` for a single file; `multipart_parts` below
for a form of several files and text fields):

    chunks = multipart_file(request, max_bytes=settings.avatar_max_bytes)   # 413 on a large Content-Length
    ...check the caller may write there...
    stored = await storage.save(chunks, max_bytes=..., allowed_types=...)  # reads, and stops at the limit
"""
from __future__ import annotations

import email.utils
import re
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from shared.errors import DomainError, TooLarge, Unprocessable, UnsupportedMediaType

ENVELOPE_BYTES = 64 * 1024     # room for the multipart boundaries and part headers around the file

# The OpenAPI description of such a route's body (FastAPI cannot see a body it does not parse).
MULTIPART_FILE_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def multipart_file(request: Request, *, max_bytes: int, field: str = "file") -> AsyncIterator[bytes]:
    """The bytes of one file part of a multipart body, read lazily; 413 at once when the declared
    length is over the limit, and as soon as the bytes read pass it."""
    declared = request.headers.get("content-type", "")
    if not declared:
        raise Unprocessable(f"A multipart body with a part named {field!r} is required",
                            errors=[{"loc": ["body", field], "msg": "Field required"}])
    boundary = _boundary(request, "Send the file as multipart/form-data")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + ENVELOPE_BYTES:
        raise TooLarge(f"Files here are limited to {max_bytes} bytes")
    return _file_part(request, boundary, field.encode(), max_bytes)


async def _file_part(request: Request, boundary: bytes, field: bytes, max_bytes: int) -> AsyncIterator[bytes]:
    parts: list[bytes] = []
    state = {"name": b"", "header": b"", "in_field": False, "seen": False}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] = bytes(data[start:end]).lower()

    def on_header_value(data: bytes, start: int, end: int) -> None:
        if state["header"] == b"content-disposition":
            _, params = parse_options_header(bytes(data[start:end]))
            state["name"] = params.get(b"name", b"")

    def on_headers_finished() -> None:
        state["in_field"] = state["name"] == field and not state["seen"]
        state["seen"] = state["seen"] or state["in_field"]

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["in_field"]:
            parts.append(bytes(data[start:end]))

    def on_part_end() -> None:
        state["in_field"], state["name"] = False, b""

    parser = MultipartParser(boundary, {
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data, "on_part_end": on_part_end})
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes + ENVELOPE_BYTES:
            raise TooLarge(f"Files here are limited to {max_bytes} bytes")
        try:
            parser.write(chunk)
        except Exception as exc:  # boundary: python-multipart raises its own errors on broken bodies
            raise DomainError(f"Malformed multipart body: {exc}") from exc
        while parts:
            yield parts.pop(0)
    parser.finalize()
    if not state["seen"]:
        raise Unprocessable(f"The multipart body has no part named {field.decode()!r}",
                            errors=[{"loc": ["body", field.decode()], "msg": "Field required"}])


# --- forms with several parts ----------------------------------------------------------------------

MAX_PARTS = 100            # files and text fields of one form
TEXT_MAX_BYTES = 64_000    # a text field, unless the caller says otherwise
_EXTENDED = re.compile(r";\s*filename\*\s*=\s*([^;]+)", re.IGNORECASE)


def multipart_form_body(*, files: dict[str, str] | None = None, fields: dict[str, dict[str, Any]] | None = None,
                        required: Iterable[str] = (), multiple: Iterable[str] = ()) -> dict[str, Any]:
    """The OpenAPI request body of a form read with `multipart_parts`, for `openapi_extra`:
    `files` maps a part name to its description, `fields` a text field to its JSON schema;
    the names in `multiple` may be sent several times (an array of them)."""
    many = set(multiple)
    properties: dict[str, Any] = {}
    for name, description in (files or {}).items():
        properties[name] = {"type": "string", "format": "binary", "description": description}
    for name, schema in (fields or {}).items():
        properties[name] = dict(schema)
    for name in many & properties.keys():
        properties[name] = {"type": "array", "items": properties[name]}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


@dataclass
class Part:
    """One part of a multipart form. Read it with `text()` or `chunks()`, once; a part not read
    is skipped when the next one is asked for."""

    name: str
    filename: str | None
    content_type: str | None
    _reader: _FormReader = field(repr=False)
    _read: bool = field(default=False, repr=False)
    _finished: bool = field(default=False, repr=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The part's bytes as they arrive (for `storage.save`)."""
        if self._read:
            raise RuntimeError("A part's body can be read once")
        self._read = True
        while (data := await self._reader.data()) is not None:
            yield data
        self._finished = True

    async def text(self, max_bytes: int = TEXT_MAX_BYTES) -> str:
        """The part as UTF-8 text: 413 past `max_bytes`, 422 when it is not UTF-8."""
        body = bytearray()
        async for data in self.chunks():
            body += data
            if len(body) > max_bytes:
                raise TooLarge(f"The field {self.name!r} is limited to {max_bytes} bytes")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise Unprocessable(f"The field {self.name!r} is not UTF-8 text", errors=[
                {"loc": ["body", self.name], "msg": "Not UTF-8 text"}]) from None


def multipart_parts(request: Request, *, max_bytes: int, max_parts: int = MAX_PARTS) -> AsyncIterator[Part]:
    """The parts of a multipart/form-data body in the order sent, read as a stream: 415 when the
    body is not multipart, 413 at once on a large Content-Length and as soon as the bytes read
    pass `max_bytes` (+ room for the envelope), 400 on a broken body, 413 past `max_parts`."""
    boundary = _boundary(request, "Send the form as multipart/form-data")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + ENVELOPE_BYTES:
        raise TooLarge(f"Requests here are limited to {max_bytes} bytes")
    return _FormReader(request, boundary, max_bytes + ENVELOPE_BYTES, max_parts).parts()


def _boundary(request: Request, message: str) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedMediaType(message)
    return options[b"boundary"]


def _filename(disposition: bytes, plain: bytes | None) -> str | None:
    """The file name of a part: `filename*` (RFC 5987) when sent, else `filename` (UTF-8 as
    browsers send it); without its directories."""
    extended = _EXTENDED.search(disposition.decode("latin-1"))
    name: str | None = None
    if extended:
        charset, _, value = email.utils.decode_rfc2231(extended.group(1).strip().strip('"'))
        name = unquote(value, encoding=charset or "utf-8", errors="replace") if value else None
    if name is None and plain is not None:
        try:
            name = plain.decode("utf-8")
        except UnicodeDecodeError:
            name = plain.decode("latin-1")
    return None if name is None else name.replace("\\", "/").rsplit("/", 1)[-1]


class _FormReader:
    """Drives python-multipart's push parser from the request stream, one event at a time."""

    def __init__(self, request: Request, boundary: bytes, limit: int, max_parts: int) -> None:
        self._stream = request.stream().__aiter__()
        self._limit, self._max_parts, self._received, self._count = limit, max_parts, 0, 0
        self._events: deque[tuple[str, Any]] = deque()
        self._header: list[bytes] = [b"", b""]
        self._headers: dict[bytes, bytes] = {}
        self._ended = self._exhausted = False
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._value,
            "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
            "on_part_data": self._data, "on_part_end": lambda: self._events.append(("end", None)),
            "on_end": self._end})

    def _begin(self) -> None:
        self._headers = {}

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header[0].lower()] = self._header[1]
        self._header = [b"", b""]

    def _headers_done(self) -> None:
        self._events.append(("part", dict(self._headers)))

    def _data(self, data: bytes, start: int, end: int) -> None:
        self._events.append(("data", bytes(data[start:end])))

    def _end(self) -> None:
        self._ended = True

    async def _next(self) -> tuple[str, Any] | None:
        while not self._events:
            if self._exhausted:
                return None
            try:
                chunk = await self._stream.__anext__()
            except StopAsyncIteration:
                self._exhausted = True
                if not self._ended:
                    raise DomainError("Malformed multipart body: it ends before its closing boundary") from None
                continue
            self._received += len(chunk)
            if self._received > self._limit:
                raise TooLarge(f"Requests here are limited to {self._limit - ENVELOPE_BYTES} bytes")
            try:
                self._parser.write(chunk)
            except Exception as exc:  # boundary: python-multipart raises its own errors on broken bodies
                raise DomainError(f"Malformed multipart body: {exc}") from exc
        return self._events.popleft()

    async def data(self) -> bytes | None:
        """The current part's next bytes, or None at its end."""
        event = await self._next()
        while event is not None and event[0] == "data" and not event[1]:
            event = await self._next()
        if event is None or event[0] == "end":
            return None
        if event[0] != "data":
            raise DomainError("Malformed multipart body")
        return event[1]

    async def parts(self) -> AsyncIterator[Part]:
        part: Part | None = None
        while True:
            if part is not None and not part._finished:
                part._read = part._finished = True
                while await self.data() is not None:   # skip what the caller did not read
                    pass
            event = await self._next()
            if event is None:
                return
            if event[0] != "part":
                continue
            self._count += 1
            if self._count > self._max_parts:
                raise TooLarge(f"A form here has at most {self._max_parts} parts")
            part = self._part(event[1])
            yield part

    def _part(self, headers: dict[bytes, bytes]) -> Part:
        disposition = headers.get(b"content-disposition", b"")
        kind, params = parse_options_header(disposition)
        if kind != b"form-data" or b"name" not in params:
            raise DomainError("Malformed multipart body: a part without a form-data name")
        content_type = headers.get(b"content-type")
        return Part(name=params[b"name"].decode("utf-8", "replace"),
                    filename=_filename(disposition, params.get(b"filename")),
                    content_type=content_type.decode("latin-1") if content_type else None, _reader=self)
