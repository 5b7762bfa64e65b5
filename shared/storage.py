"""File storage: content-addressed files on local disk, streamed in and out, size-limited,
with the content type sniffed from the bytes rather than taken from the client."""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import filetype

from shared.errors import NotFound, TooLarge, UnsupportedMediaType

CHUNK = 256 * 1024


@dataclass(frozen=True)
class StoredFile:
    key: str            # sha256 of the content
    size: int
    content_type: str


def sniff_content_type(head: bytes) -> str:
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    if not head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # a multibyte character may be cut at the end of the sample
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
    return "text/plain"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise NotFound("No such file")
        return self.root / key[:2] / key[2:4] / key

    async def save(self, chunks: AsyncIterable[bytes], *, max_bytes: int,
                   allowed_types: set[str] | None = None) -> StoredFile:
        digest, size, head = hashlib.sha256(), 0, b""
        fd, tmp_name = tempfile.mkstemp(dir=self.root / "tmp")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            async with await anyio.open_file(tmp, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"The file is larger than {max_bytes} bytes")
                    if len(head) < 4096:
                        head += chunk[: 4096 - len(head)]
                    digest.update(chunk)
                    await out.write(chunk)
            content_type = sniff_content_type(head)
            if allowed_types is not None and content_type not in allowed_types:
                raise UnsupportedMediaType(f"Files of type {content_type} are not accepted")
            key = digest.hexdigest()
            final = self._path(key)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            return StoredFile(key=key, size=size, content_type=content_type)
        finally:
            tmp.unlink(missing_ok=True)  # noqa: ASYNC240 (one local unlink, no waiting on I/O)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        if not path.exists():
            raise NotFound("No such file")
        return self._read(path)

    @staticmethod
    async def _read(path: Path) -> AsyncIterator[bytes]:
        async with await anyio.open_file(path, "rb") as source:
            while chunk := await source.read(CHUNK):
                yield chunk

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def local_path(self, key: str) -> Path:
        return self._path(key)
