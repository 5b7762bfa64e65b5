"""Thin routes of the material API: parse, call a use case, return the public shape."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.material import service
from services.material.deps import DepsDep
from services.material.domain import GRADE_MAX, GRADE_MIN, SUBJECT_MAX, TAG_MAX
from services.material.previews import THUMBNAIL_TYPE
from services.material.schemas import NO_NUL, MaterialPublic, MaterialShares, MaterialUpdate, StudiedPublic
from services.material.uploads import FORM_BODY, read_upload
from shared.app import StorageDep, UowDep
from shared.auth import CurrentUser, require_roles
from shared.downloads import file_response, file_responses
from shared.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/materials", tags=["materials"])
STUDENT = require_roles("student")
TEACHER = require_roles("teacher")
# a stored file is served as data, never as a page of this origin
FILE_HEADERS = {"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "sandbox; default-src 'none'"}

UPLOAD = """A teacher uploads a material: multipart `file` (up to `MATERIAL_MAX_BYTES`, 50 MB by
default; its type is read from its bytes, and only `MATERIAL_ACCEPTED_TYPES` are taken) with the
text parts `title`, `subject`, `grade_level?`, `description?`, `tags?` (repeated, or separated by
commas) and `visibility` (`private` by default). 413 when too large, 415 for a type not accepted,
422 for an empty file or an invalid field; nothing is stored then. The same bytes uploaded twice
are stored once, as two materials. The preview is made after the answer: `has_preview` turns true
when it is ready (`preview_status`: pending, ready, unavailable)."""

LISTING = """The materials the caller may see: their own, `public` ones, `students` ones of their
teachers (a parent: of their children's teachers), and those shared with them (or their children).
Newest first; with `q`, a full-text search over title, tags and description in Russian and
English, best match first. Filters combine."""


@router.post("", status_code=201, response_model=MaterialPublic, description=UPLOAD, dependencies=[TEACHER],
             openapi_extra=FORM_BODY, responses={
                 400: {"description": "A broken multipart body"},
                 413: {"description": "The file is larger than the limit"},
                 415: {"description": "Not a multipart body, or a file of a type not accepted"},
                 422: {"description": "An empty file, a missing part or an invalid field"}})
async def upload_material(request: Request, user: CurrentUser, uow: UowDep, deps: DepsDep,
                          storage: StorageDep) -> MaterialPublic:
    async with storage.batch() as batch:   # a refused upload leaves no new file behind
        upload = await read_upload(request, batch, deps.settings)
        material = await service.create_material(uow, deps, user, upload.data, upload.stored, upload.filename)
    return MaterialPublic.of(material, [])


@router.get("", response_model=Page[MaterialPublic], description=LISTING)
async def list_materials(user: CurrentUser, uow: UowDep, deps: DepsDep, page: PageDep,
                         subject: Annotated[str | None, Query(max_length=SUBJECT_MAX, pattern=NO_NUL)] = None,
                         grade_level: Annotated[int | None, Query(ge=GRADE_MIN, le=GRADE_MAX)] = None,
                         tag: Annotated[str | None, Query(max_length=TAG_MAX, pattern=NO_NUL)] = None,
                         q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL,
                                                        description="Words to look for, in any form")] = None,
                         owner_id: uuid.UUID | None = None) -> Page[MaterialPublic]:
    where = service.MaterialFilter(subject=subject, grade_level=grade_level, tag=tag, q=q, owner_id=owner_id)
    found = await service.list_materials(uow, deps, user, where, page)
    return found.map(MaterialPublic.of)


@router.get("/{material_id}", response_model=MaterialPublic)
async def get_material(material_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep) -> MaterialPublic:
    """404 for a material the caller may not see, as for one that does not exist."""
    return MaterialPublic.of(*await service.get_material(uow, deps.directory, user, material_id))


@router.patch("/{material_id}", response_model=MaterialPublic)
async def update_material(material_id: uuid.UUID, data: MaterialUpdate, user: CurrentUser, uow: UowDep,
                          deps: DepsDep) -> MaterialPublic:
    """The owner changes the title, subject, grade, tags, description or visibility."""
    return MaterialPublic.of(*await service.update_material(uow, deps, user, material_id, data))


@router.delete("/{material_id}", status_code=204)
async def delete_material(material_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep,
                          storage: StorageDep) -> Response:
    """The owner removes a material: from every list, link and share; its file goes with the
    last material made of the same bytes."""
    await service.delete_material(uow, deps, storage, user, material_id)
    return Response(status_code=204)


@router.put("/{material_id}/shares", response_model=MaterialPublic, responses={
    422: {"description": "Invalid input, or a student not linked to the owner"},
    503: {"description": "A link is not known here yet and the user service cannot confirm it now"}})
async def share_material(material_id: uuid.UUID, data: MaterialShares, user: CurrentUser, uow: UowDep,
                         deps: DepsDep) -> MaterialPublic:
    """The owner shares the material with exactly these linked students, whatever its visibility."""
    return MaterialPublic.of(*await service.share_material(uow, deps.directory, user, material_id,
                                                           data.student_ids))


@router.post("/{material_id}/studied", response_model=StudiedPublic, dependencies=[STUDENT])
async def mark_studied(material_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep) -> StudiedPublic:
    """A student marks a material they see as studied: the first time emits `material.studied`
    (XP, achievements); again, the same answer and nothing more."""
    mark = await service.mark_studied(uow, deps.directory, user, material_id)
    return StudiedPublic(material_id=mark.material_id, student_id=mark.student_id, studied_at=mark.studied_at)


@router.head("/{material_id}/download", include_in_schema=False)
@router.get("/{material_id}/download", response_class=Response, responses=file_responses())
async def download_material(material_id: uuid.UUID, request: Request, user: CurrentUser, uow: UowDep,
                            deps: DepsDep, storage: StorageDep,
                            inline: Annotated[bool, Query(description="Shown in the browser rather than saved")] = False
                            ) -> Response:
    """The file as uploaded, under its original name; `ETag` / `If-None-Match` (304) and one
    `Range` (206, 416), so that audio and video can be played from any point."""
    material, _ = await service.get_material(uow, deps.directory, user, material_id)
    return await file_response(request, storage, material.file_key, content_type=material.content_type,
                               filename=material.filename, size=material.size, inline=inline,
                               headers=FILE_HEADERS)


@router.head("/{material_id}/thumbnail", include_in_schema=False)
@router.get("/{material_id}/thumbnail", response_class=Response, responses=file_responses("image/webp"))
async def material_thumbnail(material_id: uuid.UUID, request: Request, user: CurrentUser, uow: UowDep,
                             deps: DepsDep, storage: StorageDep) -> Response:
    """The preview (WebP); 404 while it is not ready, or when the file has none."""
    material = await service.thumbnail_of(uow, deps.directory, user, material_id)
    assert material.thumbnail_key is not None
    return await file_response(request, storage, material.thumbnail_key, content_type=THUMBNAIL_TYPE,
                               filename=f"{material.filename.rsplit('.', 1)[0]}.webp", inline=True,
                               size=storage.size(material.thumbnail_key), headers=FILE_HEADERS)
