"""A tiny upstream with the behaviours the gateway tests need, registered in place of a service.

Every path echoes the request as JSON, except:
  GET  /health/ready            ready (503 while "not ready" was asked with ?ready=0 once)
  GET  .../_stats                how many requests this instance has seen (not counted)
  POST .../upload                multipart: the sha256 and size of each file, hashed as it streams
  GET  .../download?size=N       N deterministic bytes, streamed
  POST .../store                 multipart: files saved (shared.uploads + shared.storage), their keys
  GET, HEAD, DELETE .../files/K  the stored file K (shared.downloads: ranges, ETag), or its removal
  any  ...?status=S              answers with status S (&retry_after=N: with that Retry-After)
  any  ...?sleep=T               waits T seconds first
  any  ...?hold=K                waits (counted as seen) until .../_release?hold=K is asked
Run it: `python -m uvicorn tests.upstream_app:create_app --factory` (UPSTREAM_NAME names it).
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shared.downloads import file_response
from shared.errors import DomainError, problem
from shared.storage import LocalStorage
from shared.uploads import multipart_parts

BLOCK = bytes(range(256)) * 256          # 64 KiB of a known pattern


def pattern(size: int) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        left = size
        while left > 0:
            piece = BLOCK[: min(left, len(BLOCK))]
            left -= len(piece)
            yield piece
    return chunks()


def create_app() -> Starlette:
    name = os.environ.get("UPSTREAM_NAME", "upstream")
    seen = {"requests": 0}
    holds: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
    storage = LocalStorage(os.environ.get("UPSTREAM_FILES_DIR") or tempfile.mkdtemp(prefix="upstream-files-"))

    async def ready(_: Request) -> Response:
        return JSONResponse({"status": "ok", "checks": {}})

    async def anything(request: Request) -> Response:
        path = request.url.path
        if path.endswith("/_stats"):
            return JSONResponse({"instance": name, **seen})
        if path.endswith("/_release"):
            holds[request.query_params["hold"]].set()
            return JSONResponse({"released": request.query_params["hold"]})
        seen["requests"] += 1
        if "hold" in request.query_params:
            await holds[request.query_params["hold"]].wait()
        if "sleep" in request.query_params:
            await asyncio.sleep(float(request.query_params["sleep"]))
        if path.endswith("/upload") and request.method == "POST":
            return await _upload(request, name)
        if path.endswith("/store") and request.method == "POST":
            return await _store(request, storage)
        if "/files/" in path:
            return await _file(request, storage, path.rsplit("/", 1)[-1])
        if path.endswith("/download"):
            size = int(request.query_params.get("size", "0"))
            return StreamingResponse(pattern(size), media_type="application/octet-stream")
        body = await request.body()
        status = int(request.query_params.get("status", "200"))
        return JSONResponse({"instance": name, "method": request.method, "path": path,
                             "query": request.url.query, "headers": dict(request.headers.items()),
                             "header_list": [[k, v] for k, v in request.headers.items()],
                             "body_size": len(body), "body_sha256": hashlib.sha256(body).hexdigest()},
                            status_code=status, headers=_retry_after(request))

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/health/ready", ready), Route("/{path:path}", anything, methods=methods)],
                     exception_handlers={DomainError: _problem})


async def _problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return problem(exc.status, exc.detail or exc.title, headers=exc.headers)


async def _store(request: Request, storage: LocalStorage) -> Response:
    files, fields = [], {}
    async with storage.batch() as batch:
        async for part in multipart_parts(request, max_bytes=64 * 1024 * 1024):
            if part.filename is None:
                fields[part.name] = await part.text()
                continue
            stored = await batch.save(part.chunks(), max_bytes=60 * 1024 * 1024)
            files.append({"filename": part.filename, "key": stored.key, "size": stored.size})
    return JSONResponse({"files": files, "fields": fields}, status_code=201)


async def _file(request: Request, storage: LocalStorage, key: str) -> Response:
    if request.method == "DELETE":
        return JSONResponse({"deleted": storage.delete(key)})
    return await file_response(request, storage, key, content_type="application/octet-stream",
                               filename=request.query_params.get("name", "file"), size=storage.size(key))


async def _upload(request: Request, name: str) -> Response:
    files = []
    async with request.form(max_files=10, max_part_size=1024 * 1024) as form:
        for _, value in form.multi_items():
            if hasattr(value, "read"):
                digest, size = hashlib.sha256(), 0
                while chunk := await value.read(1024 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
                files.append({"filename": value.filename, "size": size, "sha256": digest.hexdigest()})
    return JSONResponse({"instance": name, "files": files}, status_code=201)


def _retry_after(request: Request) -> dict[str, str] | None:
    value = request.query_params.get("retry_after")
    return {"Retry-After": value} if value else None
