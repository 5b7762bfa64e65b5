"""File storage: content-addressed files on local disk, streamed in and out, size-limited,
with the content type sniffed from the bytes rather than taken from the client.

A request that saves several files saves them in a `batch`: when it fails half way (the third
file is too large), the files it created are removed again, and only those: a key that existed
before belongs to another record too (the same bytes are stored once).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import filetype

from shared.errors import NotFound, TooLarge, UnsupportedMediaType
from shared.metrics import FILE_BYTES_STORED, FILES_STORED

CHUNK = 256 * 1024
SNIFF_BYTES = 8192      # enough for filetype to find word/, xl/, ppt/ in an OOXML zip's first entries

# Named groups of accepted types, for settings such as `HOMEWORK_ACCEPTED_TYPES=documents,images`.
TYPE_GROUPS: dict[str, frozenset[str]] = {
    "documents": frozenset({
        "application/pdf", "application/msword", "application/rtf", "text/plain",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text", "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.spreadsheet", "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.presentation"}),
    "images": frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "image/bmp",
                         "image/tiff"}),
    "audio": frozenset({"audio/mpeg", "audio/ogg", "audio/mp4", "audio/aac", "audio/x-wav", "audio/x-flac",
                        "audio/amr", "audio/webm"}),
    "video": frozenset({"video/mp4", "video/webm", "video/quicktime", "video/x-matroska", "video/x-msvideo",
                        "video/3gpp"}),
    "archives": frozenset({"application/zip", "application/x-7z-compressed", "application/x-rar-compressed"}),
}
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"   # the container of .doc, .xls, .ppt
# ELF; PE (MZ); Mach-O 32/64 bit either byte order, and fat binaries
EXECUTABLE_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
                    b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
OCTET_STREAM = "application/octet-stream"


def accepted_types(setting: str | Iterable[str]) -> frozenset[str]:
    """The MIME types a setting names: group names (`documents`) and MIME types, comma-separated."""
    names = setting.split(",") if isinstance(setting, str) else setting
    types: set[str] = set()
    for name in (n.strip().lower() for n in names):
        if name in TYPE_GROUPS:
            types |= TYPE_GROUPS[name]
        elif "/" in name:
            types.add(name)
        elif name:
            raise ValueError(f"{name!r} is neither a MIME type nor one of {', '.join(sorted(TYPE_GROUPS))}")
    return frozenset(types)


def is_executable(head: bytes) -> bool:
    return head.startswith(EXECUTABLE_MAGIC)


def sniff_content_type(head: bytes) -> str:
    if is_executable(head):
        return "application/x-executable"
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if head.startswith(OLE):
        return "application/x-ole-storage"      # an Office 97 file filetype could not name
    if not head:
        return OCTET_STREAM
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # a multibyte character may be cut at the end of the sample
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return OCTET_STREAM
    return "text/plain"


@dataclass(frozen=True)
class StoredFile:
    key: str            # sha256 of the content
    size: int
    content_type: str
    created: bool = True    # False when the same bytes were stored already (by another record, maybe)


@dataclass
class Batch:
    """The files one request created; removed again when the request fails (see `LocalStorage.batch`)."""

    storage: LocalStorage
    created: list[str] = field(default_factory=list)

    async def save(self, chunks: AsyncIterable[bytes], *, max_bytes: int,
                   allowed_types: Iterable[str] | None = None) -> StoredFile:
        stored = await self.storage.save(chunks, max_bytes=max_bytes, allowed_types=allowed_types)
        if stored.created:
            self.created.append(stored.key)
        return stored


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise NotFound("No such file")
        return self.root / key[:2] / key[2:4] / key

    async def save(self, chunks: AsyncIterable[bytes], *, max_bytes: int,
                   allowed_types: Iterable[str] | None = None) -> StoredFile:
        """Store the bytes under their sha256; 413 past `max_bytes`, 415 for a type not allowed
        (and for an executable, always). A failure leaves no file behind, not even a temporary one."""
        digest, size, head = hashlib.sha256(), 0, b""
        fd, tmp_name = tempfile.mkstemp(dir=self.root / "tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            async with await anyio.open_file(tmp, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        FILES_STORED.labels("too_large").inc()
                        raise TooLarge(f"The file is larger than {max_bytes} bytes")
                    if len(head) < SNIFF_BYTES:
                        head += chunk[: SNIFF_BYTES - len(head)]
                    digest.update(chunk)
                    await out.write(chunk)
            content_type = sniff_content_type(head)
            if is_executable(head) or (allowed_types is not None and content_type not in set(allowed_types)):
                FILES_STORED.labels("refused_type").inc()
                raise UnsupportedMediaType(f"Files of type {content_type} are not accepted")
            key = digest.hexdigest()
            final = self._path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            created = not final.exists()
            os.replace(tmp, final)
            FILES_STORED.labels("created" if created else "existing").inc()
            if created:
                FILE_BYTES_STORED.inc(size)
            return StoredFile(key=key, size=size, content_type=content_type, created=created)
        finally:
            tmp.unlink(missing_ok=True)  # noqa: ASYNC240 (one local unlink, no waiting on I/O)

    @contextlib.asynccontextmanager
    async def batch(self) -> AsyncIterator[Batch]:
        """Save several files; on any exception, delete the ones this batch created, then re-raise.

            async with storage.batch() as batch:
                stored = await batch.save(part.chunks(), max_bytes=..., allowed_types=...)
        """
        batch = Batch(self)
        try:
            yield batch
        except BaseException:
            for key in batch.created:
                self.delete(key)
            raise

    def delete(self, key: str) -> bool:
        """Remove a file; whether it was there. The caller makes sure no record still uses it."""
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        FILES_STORED.labels("removed").inc()
        return True

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The file's bytes from `start` up to and including `end` (the last one by default)."""
        path = self._path(key)
        if not path.exists():
            raise NotFound("No such file")
        return self._read(path, start, end)

    @staticmethod
    async def _read(path: Path, start: int, end: int | None) -> AsyncIterator[bytes]:
        left = None if end is None else end - start + 1
        async with await anyio.open_file(path, "rb") as source:
            await source.seek(start)
            while left is None or left > 0:
                chunk = await source.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound("No such file") from None

    def local_path(self, key: str) -> Path:
        return self._path(key)
