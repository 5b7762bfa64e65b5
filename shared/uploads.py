"""Uploads read as a stream: who may upload is decided before the body is touched, and reading
stops at the limit, whether the client sent a Content-Length or a chunked body. Every upload
route (avatars now; homework, materials, decks to come) takes its file this way:

    chunks = multipart_file(request, max_bytes=settings.avatar_max_bytes)   # 413 on a large Content-Length
    ...check the caller may write there...
    stored = await storage.save(chunks, max_bytes=..., allowed_types=...)  # reads, and stops at the limit
"""
from __future__ import annotations

from collections.abc import AsyncIterator

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
    content_type, options = parse_options_header(declared)
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedMediaType("Send the file as multipart/form-data")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes + ENVELOPE_BYTES:
        raise TooLarge(f"Files here are limited to {max_bytes} bytes")
    return _file_part(request, options[b"boundary"], field.encode(), max_bytes)


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
