import hashlib

import pytest

from shared.errors import TooLarge, UnsupportedMediaType
from shared.storage import LocalStorage, sniff_content_type

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


async def test_saved_files_are_content_addressed_and_read_back_streamed(tmp_path):
    storage = LocalStorage(tmp_path)
    stored = await storage.save(_chunks(b"hello ", b"world"), max_bytes=100)
    assert stored.key == hashlib.sha256(b"hello world").hexdigest()
    assert stored.size == 11 and stored.content_type == "text/plain"
    assert b"".join([c async for c in await storage.open(stored.key)]) == b"hello world"


async def test_the_content_type_comes_from_the_bytes_not_the_name(tmp_path):
    stored = await LocalStorage(tmp_path).save(_chunks(PNG), max_bytes=1000)
    assert stored.content_type == "image/png"
    assert sniff_content_type(b"\xff\xfe\x00garbage\x81") == "application/octet-stream"


async def test_too_large_uploads_are_refused_and_leave_nothing_behind(tmp_path):
    storage = LocalStorage(tmp_path)
    with pytest.raises(TooLarge):
        await storage.save(_chunks(b"x" * 600, b"x" * 600), max_bytes=1000)
    assert list((tmp_path / "tmp").iterdir()) == []


async def test_unexpected_types_are_refused(tmp_path):
    with pytest.raises(UnsupportedMediaType):
        await LocalStorage(tmp_path).save(_chunks(b"plain text"), max_bytes=100, allowed_types={"image/png"})


async def test_keys_that_are_not_hashes_never_become_paths(tmp_path):
    from shared.errors import NotFound
    with pytest.raises(NotFound):
        await LocalStorage(tmp_path).open("../../etc/passwd")
