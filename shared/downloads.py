"""Stored files served to clients: the sniffed type, the name per RFC 6266, a strong ETag from
the content hash (304 on If-None-Match), and one byte range (206, or 416 when unsatisfiable;
If-Range respected). The bytes are streamed from storage, never held whole.

    @router.head("/materials/{id}/file", include_in_schema=False)
    @router.get("/materials/{id}/file", response_class=StreamingResponse, responses=FILE_RESPONSES)
    async def download(...) -> Response:
        return await file_response(request, storage, m.file_key, content_type=m.content_type,
                                   filename=m.filename, size=m.size)
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from shared.errors import PROBLEM_JSON, problem
from shared.metrics import FILE_DOWNLOADS
from shared.storage import LocalStorage

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 !#$&+.^_`|~()\[\]{}@-]")



def file_responses(media_type: str = "*/*") -> dict[int | str, dict[str, Any]]:
    """The answers of a download route, for `responses=`: 200, 206, 304 and 416 with their meaning
    (`media_type`: what the route serves; any type by default, as the bytes decide it)."""
    binary = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    return {
        200: {"description": "The file", "content": binary},
        206: {"description": "The requested byte range (Content-Range says which)", "content": binary},
        304: {"description": "Not modified: the ETag sent in If-None-Match is the file's"},
        416: {"description": "Range not satisfiable (Content-Range: bytes */size)",
              "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}},
    }


FILE_RESPONSES = file_responses()


class Unsatisfiable(Exception):
    """A Range no byte of the file falls into."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int          # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range `header` asks for (`bytes=a-b`, `a-`, `-n`), clipped to the file; None for the
    whole file (no header, a header this does not understand, or several ranges: RFC 7233
    allows answering those with the whole file). Raises `Unsatisfiable` past the end."""
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:                       # the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None                     # syntactically invalid: ignored, as RFC 7233 says
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(int(last) if last else size - 1, size - 1))


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback `filename` and the exact name as `filename*` (UTF-8)."""
    kind = "inline" if inline else "attachment"
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].replace("\r", "").replace("\n", "") or "file"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = _UNSAFE_ASCII.sub("_", ascii_name).strip() or "file"
    if "." in name and "." not in ascii_name:
        ascii_name += "." + name.rsplit(".", 1)[-1].encode("ascii", "ignore").decode("ascii")
    header = f'{kind}; filename="{ascii_name}"'
    if ascii_name != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def strong_etag(key: str) -> str:
    return f'"{key}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether a request's If-None-Match names this ETag, so that 304 is the answer (for answers
    other than stored files, such as rendered charts)."""
    return _matches(if_none_match, etag)


def _matches(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison (RFC 7232 §3.2), `*` matches any."""
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


async def file_response(request: Request, storage: LocalStorage, key: str, *, content_type: str,
                        filename: str, size: int, etag: str | None = None, inline: bool = False,
                        headers: dict[str, str] | None = None) -> Response:
    """The stored file `key` as the answer to `request` (GET or HEAD): 200, 206, 304 or 416."""
    etag = etag or strong_etag(key)
    common = {"ETag": etag, "Accept-Ranges": "bytes",
              "Content-Disposition": content_disposition(filename, inline=inline), **(headers or {})}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, etag):
        FILE_DOWNLOADS.labels("304").inc()
        return Response(status_code=304, headers={k: v for k, v in common.items() if k != "Content-Disposition"})
    if_range = request.headers.get("if-range")
    wanted = request.headers.get("range") if if_range is None or if_range.strip() == etag else None
    try:
        byte_range = parse_range(wanted, size)
    except Unsatisfiable:
        FILE_DOWNLOADS.labels("416").inc()
        return problem(416, f"The file has {size} bytes", headers={"Content-Range": f"bytes */{size}"})
    status, start, end = 200, 0, size - 1
    if byte_range is not None:
        status, start, end = 206, byte_range.start, byte_range.end
        common["Content-Range"] = f"bytes {start}-{end}/{size}"
    common["Content-Length"] = str(end - start + 1)
    FILE_DOWNLOADS.labels(str(status)).inc()
    if request.method == "HEAD":
        return Response(status_code=status, headers=common, media_type=content_type)
    chunks = await storage.open(key, start, end) if size else _nothing()
    return StreamingResponse(chunks, status_code=status, headers=common, media_type=content_type)


async def _nothing() -> Any:
    return
    yield b""  # an empty body
