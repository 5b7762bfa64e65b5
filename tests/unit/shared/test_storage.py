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


# --- accepted types, executables, batches, ranges ----------------------------------------------------

def _zip_with(entry: str) -> bytes:
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(entry, "<x/>")
    return buffer.getvalue()


def test_settings_name_groups_and_types():
    from shared.storage import TYPE_GROUPS, accepted_types
    types = accepted_types("documents, images,audio/ogg")
    assert "application/pdf" in types and "image/png" in types and "audio/ogg" in types
    assert "application/zip" not in types
    assert accepted_types("archives") == TYPE_GROUPS["archives"] >= {"application/x-7z-compressed"}
    with pytest.raises(ValueError, match="neither"):
        accepted_types("documents,spreadsheets")


def test_office_documents_are_told_apart_from_plain_zips():
    assert sniff_content_type(_zip_with("word/document.xml")).endswith("wordprocessingml.document")
    assert sniff_content_type(_zip_with("xl/workbook.xml")).endswith("spreadsheetml.sheet")
    assert sniff_content_type(_zip_with("notes.txt")) == "application/zip"
    assert sniff_content_type(b"%PDF-1.7\n" + b"x" * 100) == "application/pdf"


@pytest.mark.parametrize("head", [b"\x7fELF\x02\x01\x01", b"MZ\x90\x00\x03", b"\xcf\xfa\xed\xfe\x07\x00",
                                  b"\xca\xfe\xba\xbe\x00\x00"])
async def test_executables_are_refused_whatever_is_allowed(tmp_path, head):
    storage = LocalStorage(tmp_path)
    with pytest.raises(UnsupportedMediaType):
        await storage.save(_chunks(head + b"\x00" * 100), max_bytes=1000)
    with pytest.raises(UnsupportedMediaType):
        await storage.save(_chunks(head + b"\x00" * 100), max_bytes=1000, allowed_types={"application/x-executable"})
    assert list((tmp_path / "tmp").iterdir()) == []


async def test_save_tells_whether_the_bytes_are_new_and_delete_removes_them(tmp_path):
    storage = LocalStorage(tmp_path)
    first = await storage.save(_chunks(b"same"), max_bytes=100)
    again = await storage.save(_chunks(b"same"), max_bytes=100)
    assert first.created and not again.created and first.key == again.key
    assert storage.delete(first.key) and not storage.exists(first.key)
    assert not storage.delete(first.key)


async def test_a_failing_batch_removes_the_files_it_created_and_only_those(tmp_path):
    storage = LocalStorage(tmp_path)
    older = await storage.save(_chunks(b"used by another record"), max_bytes=100)
    with pytest.raises(TooLarge):
        async with storage.batch() as batch:
            new = await batch.save(_chunks(b"new bytes"), max_bytes=100)
            shared = await batch.save(_chunks(b"used by another record"), max_bytes=100)
            await batch.save(_chunks(b"x" * 200), max_bytes=100)
    assert not storage.exists(new.key) and storage.exists(shared.key) and storage.exists(older.key)
    async with storage.batch() as batch:
        kept = await batch.save(_chunks(b"kept"), max_bytes=100)
    assert storage.exists(kept.key) and batch.created == [kept.key]


async def test_a_range_is_read_from_the_file(tmp_path):
    import shared.storage
    storage = LocalStorage(tmp_path)
    data = bytes(range(256)) * 4096
    stored = await storage.save(_chunks(data), max_bytes=len(data))
    middle = b"".join([c async for c in await storage.open(stored.key, 1000, shared.storage.CHUNK + 5000)])
    assert middle == data[1000: shared.storage.CHUNK + 5001]
    assert b"".join([c async for c in await storage.open(stored.key, len(data) - 3)]) == data[-3:]
