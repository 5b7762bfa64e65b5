"""The file kit end to end in one small app: a form of several files and text fields read as a
stream, saved in a batch that cleans up after itself, and served back with ranges and ETags."""
import hashlib

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from prometheus_client import REGISTRY

from shared.downloads import FILE_RESPONSES, file_response
from shared.errors import install_problem_handlers
from shared.openapi import install
from shared.storage import LocalStorage, accepted_types
from shared.uploads import multipart_form_body, multipart_parts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40
FILE_MAX, FORM_MAX = 20_000, 50_000
ACCEPTED = accepted_types("documents,images")


def make_app(storage: LocalStorage) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install(app)

    @app.post("/forms", openapi_extra=multipart_form_body(
        files={"file": "A document or image"}, fields={"title": {"type": "string"}}, multiple=["file"]))
    async def post_form(request: Request) -> dict:
        fields, files = {}, []
        async with storage.batch() as batch:
            async for part in multipart_parts(request, max_bytes=FORM_MAX):
                if part.filename is None:
                    fields[part.name] = await part.text(max_bytes=100)
                elif part.name == "file":
                    stored = await batch.save(part.chunks(), max_bytes=FILE_MAX, allowed_types=ACCEPTED)
                    files.append({"filename": part.filename, "key": stored.key, "size": stored.size,
                                  "content_type": stored.content_type, "created": stored.created})
        return {"fields": fields, "files": files}

    @app.head("/files/{key}", include_in_schema=False)
    @app.get("/files/{key}", response_class=StreamingResponse, responses=FILE_RESPONSES)
    async def get_file(key: str, request: Request, name: str = "file") -> StreamingResponse:
        return await file_response(request, storage, key, content_type="application/pdf", filename=name,
                                   size=storage.size(key))

    return app


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path)


@pytest.fixture
async def client(storage):
    transport = httpx.ASGITransport(app=make_app(storage))
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        yield client


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def blobs(storage: LocalStorage) -> list:
    return [p for p in storage.root.rglob("*") if p.is_file()]


async def test_several_files_and_text_fields_are_read_in_order_and_saved(client, storage):
    response = await client.post("/forms", data={"title": "Домашка", "unknown": "skipped"}, files=[
        ("file", ("Отчёт.pdf", PDF, "application/pdf")), ("file", ("a.png", PNG, "image/png")),
        ("ignored", ("x.bin", b"\x00" * 100, "application/octet-stream"))])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["fields"] == {"title": "Домашка", "unknown": "skipped"}
    assert [(f["filename"], f["content_type"], f["created"]) for f in body["files"]] == [
        ("Отчёт.pdf", "application/pdf", True), ("a.png", "image/png", True)]
    assert body["files"][0]["key"] == hashlib.sha256(PDF).hexdigest()
    assert len(blobs(storage)) == 2


async def test_an_rfc5987_filename_is_decoded(client):
    boundary = "kitboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fallback.pdf\"; "
            f"filename*=UTF-8''%D0%A3%D1%80%D0%BE%D0%BA.pdf\r\nContent-Type: application/pdf\r\n\r\n").encode() \
        + PDF + f"\r\n--{boundary}--\r\n".encode()
    response = await client.post("/forms", content=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 200, response.text
    assert response.json()["files"][0]["filename"] == "Урок.pdf"


async def test_a_refused_third_file_removes_the_files_the_request_created_and_only_those(client, storage):
    first = await client.post("/forms", files=[("file", ("old.png", PNG, "image/png"))])
    assert first.status_code == 200
    refused, removed = (counted("repitbot_files_stored_total", outcome=o) for o in ("refused_type", "removed"))
    response = await client.post("/forms", files=[
        ("file", ("new.pdf", PDF, "application/pdf")), ("file", ("old.png", PNG, "image/png")),
        ("file", ("evil.pdf", b"MZ\x90\x00" + b"\x00" * 500, "application/pdf"))])
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert [p.name for p in blobs(storage)] == [hashlib.sha256(PNG).hexdigest()]
    assert counted("repitbot_files_stored_total", outcome="refused_type") == refused + 1
    assert counted("repitbot_files_stored_total", outcome="removed") == removed + 1


async def test_an_oversized_file_or_form_leaves_no_blob_and_no_temp_file(client, storage):
    response = await client.post("/forms", files=[("file", ("a.pdf", PDF, "application/pdf")),
                                                  ("file", ("big.pdf", PDF * 3, "application/pdf"))])
    assert response.status_code == 413
    assert blobs(storage) == []

    async def chunked():              # no Content-Length: the limit is found while reading
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.7\n"
        for _ in range(20):
            yield b"x" * 10_000
    response = await client.post("/forms", content=chunked(),
                                 headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413
    assert blobs(storage) == []
    declared = await client.post("/forms", content=b"x", headers={
        "Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(FORM_MAX * 10)})
    assert declared.status_code == 413


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/json", b"{}", 415),
    ("multipart/form-data", b"--b\r\n", 415),                                    # no boundary
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"file\"; "
                                        b"filename=\"a.pdf\"\r\n\r\n%PDF", 400),   # cut short
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n", 400),
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                                        b"\xff\xfe\r\n--b--\r\n", 422),             # not UTF-8
    ("multipart/form-data; boundary=b", b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                                        + b"t" * 200 + b"\r\n--b--\r\n", 413),      # text field too long
])
async def test_bodies_that_are_not_good_forms_are_problems(client, content_type, body, status):
    response = await client.post("/forms", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_too_many_parts_are_refused(client):
    body = b"".join(b"--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nx\r\n" % i for i in range(101))
    response = await client.post("/forms", content=body + b"--b--\r\n",
                                 headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413


async def test_a_stored_file_is_served_whole_by_range_and_by_etag(client, storage):
    key = (await client.post("/forms", files=[("file", ("a.pdf", PDF, "application/pdf"))])).json()["files"][0]["key"]
    whole = await client.get(f"/files/{key}", params={"name": "Урок 1.pdf"})
    assert whole.status_code == 200 and whole.content == PDF
    assert whole.headers["content-length"] == str(len(PDF)) and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["etag"] == f'"{key}"' and whole.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%D0%A3%D1%80%D0%BE%D0%BA%201.pdf" in whole.headers["content-disposition"]

    ranged = counted("repitbot_file_downloads_total", status="206")
    part = await client.get(f"/files/{key}", headers={"Range": "bytes=100-199"})
    assert counted("repitbot_file_downloads_total", status="206") == ranged + 1
    assert part.status_code == 206 and part.content == PDF[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(PDF)}" and part.headers["content-length"] == "100"
    tail = await client.get(f"/files/{key}", headers={"Range": "bytes=-10", "If-Range": f'"{key}"'})
    assert tail.status_code == 206 and tail.content == PDF[-10:]
    stale = await client.get(f"/files/{key}", headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == PDF
    beyond = await client.get(f"/files/{key}", headers={"Range": f"bytes={len(PDF)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(PDF)}"
    assert beyond.headers["content-type"] == "application/problem+json"

    cached = await client.get(f"/files/{key}", headers={"If-None-Match": f'W/"x", "{key}"'})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == f'"{key}"'
    head = await client.head(f"/files/{key}", headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.content == b"" and head.headers["content-length"] == "10"
    missing = await client.get("/files/" + "0" * 64)
    assert missing.status_code == 404


async def test_the_document_declares_the_form_and_the_download_answers(storage):
    doc = make_app(storage).openapi()
    form = doc["paths"]["/forms"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"] == {"type": "array", "items": {
        "type": "string", "format": "binary", "description": "A document or image"}}
    answers = doc["paths"]["/files/{key}"]["get"]["responses"]
    assert {"200", "206", "304", "416"} <= answers.keys()
    assert "*/*" in answers["206"]["content"]
    assert "application/problem+json" in answers["416"]["content"]
