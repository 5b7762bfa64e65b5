"""The material service's use cases: each takes a unit of work and what it needs, loads, applies
the rules of `domain.py` and `access.py`, emits events and commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Select, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.material import access, blobs
from services.material.deps import MaterialDeps
from services.material.domain import PreviewStatus, ensure_owner, subject_key
from services.material.models import Material, MaterialShare, MaterialTag, StudiedMark
from services.material.schemas import MaterialCreate, MaterialUpdate
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound, Unprocessable
from shared.events import MaterialDeleted, MaterialStudied, MaterialUpdated, MaterialUploaded, utcnow
from shared.pagination import Page, PageParams, make_page
from shared.people import Directory
from shared.storage import LocalStorage, StoredFile

MATERIALS_UPLOADED = Counter("repitbot_materials_uploaded_total", "Materials uploaded", ["visibility"])
MATERIALS_DELETED = Counter("repitbot_materials_deleted_total", "Materials deleted")
MATERIALS_STUDIED = Counter("repitbot_materials_studied_total", "Materials marked studied (first time only)")


# --- writing ---------------------------------------------------------------------------------
async def create_material(uow: UnitOfWork, deps: MaterialDeps, owner: Principal, data: MaterialCreate,
                          stored: StoredFile, filename: str) -> Material:
    """A new material of the stored file; its preview is made after the commit."""
    now = utcnow()
    async with uow:
        material = Material(
            id=uuid.uuid4(), owner_id=owner.id, title=data.title, subject=data.subject,
            subject_key=subject_key(data.subject),
            grade_level=data.grade_level, description=data.description, keywords=" ".join(data.tags),
            visibility=data.visibility, file_key=stored.key, content_type=stored.content_type,
            size=stored.size, filename=filename, preview_status=PreviewStatus.PENDING,
            created_at=now, updated_at=now,
            tag_rows=[MaterialTag(tag=tag, position=i) for i, tag in enumerate(data.tags)])
        uow.session.add(material)
        await uow.session.flush()
        await deps.search.index(uow.session, material)
        uow.emit(MaterialUploaded(material_id=material.id, teacher_id=owner.id, subject=material.subject,
                                  grade_level=material.grade_level, visibility=material.visibility,
                                  title=material.title))
        deps.previewer.after_commit(uow, material.id)
        await uow.commit()
    MATERIALS_UPLOADED.labels(material.visibility).inc()
    return material


async def update_material(uow: UnitOfWork, deps: MaterialDeps, editor: Principal, material_id: uuid.UUID,
                          data: MaterialUpdate) -> tuple[Material, list[uuid.UUID]]:
    async with uow:
        material = await _owned(uow.session, editor, material_id)
        changes = data.model_dump(exclude_unset=True)
        if "tags" in changes:
            material.tag_rows = [MaterialTag(tag=tag, position=i) for i, tag in enumerate(changes.pop("tags"))]
            material.keywords = " ".join(material.tags)
        for name, value in changes.items():
            setattr(material, name, value)
        material.subject_key = subject_key(material.subject)
        material.updated_at = utcnow()
        await uow.session.flush()
        await deps.search.index(uow.session, material)
        shares = await access.shared_with(uow.session, material.id)
        uow.emit(MaterialUpdated(material_id=material.id, teacher_id=material.owner_id, subject=material.subject,
                                 grade_level=material.grade_level, visibility=material.visibility,
                                 title=material.title))
        await uow.commit()
    return material, shares


async def delete_material(uow: UnitOfWork, deps: MaterialDeps, storage: LocalStorage, editor: Principal,
                          material_id: uuid.UUID) -> None:
    """The material goes from every list and link; its file and preview go when no other
    material is made of the same bytes."""
    async with uow:
        material = await _owned(uow.session, editor, material_id)
        keys = [material.file_key, material.thumbnail_key]
        await deps.search.forget(uow.session, material.id)
        await uow.session.delete(material)
        uow.emit(MaterialDeleted(material_id=material.id, teacher_id=material.owner_id))
        await uow.commit()
    async with uow.read_only():
        await blobs.release(uow.session, storage, keys)
    MATERIALS_DELETED.inc()


async def erase_user(uow: UnitOfWork, deps: MaterialDeps, user_id: uuid.UUID) -> None:
    """A deleted account (inside the consumer's transaction): its materials go, with their files
    once no other material uses them, and so do its shares and "studied" marks."""
    session = uow.session
    await session.execute(delete(MaterialShare).where(MaterialShare.student_id == user_id))
    await session.execute(delete(StudiedMark).where(StudiedMark.student_id == user_id))
    owned = list(await session.scalars(select(Material).where(Material.owner_id == user_id)))
    keys = [key for m in owned for key in (m.file_key, m.thumbnail_key)]
    for material in owned:
        await deps.search.forget(session, material.id)
        await session.delete(material)
        uow.emit(MaterialDeleted(material_id=material.id, teacher_id=user_id))
    if owned:
        uow.after_commit(lambda: _release(deps, keys))
        MATERIALS_DELETED.inc(len(owned))


async def _release(deps: MaterialDeps, keys: list[str | None]) -> None:
    async with deps.uows().read_only() as uow:
        await blobs.release(uow.session, deps.storage, keys)


async def share_material(uow: UnitOfWork, directory: Directory, editor: Principal, material_id: uuid.UUID,
                         student_ids: list[uuid.UUID]) -> tuple[Material, list[uuid.UUID]]:
    """Share with exactly these students (each linked to the owner; 422 naming those who are not)."""
    wanted = list(dict.fromkeys(student_ids))
    async with uow:
        material = await _owned(uow.session, editor, material_id)
        unlinked = await access.unlinked_among(uow.session, directory, editor.id, wanted)
        if unlinked:
            raise Unprocessable("Materials are shared only with the owner's linked students", errors=[
                {"loc": ["body", "student_ids", str(wanted.index(s))], "msg": "not linked to the owner"}
                for s in unlinked])
        await uow.session.execute(delete(MaterialShare).where(MaterialShare.material_id == material.id,
                                                              MaterialShare.student_id.not_in(wanted)))
        kept = set(await access.shared_with(uow.session, material.id))
        uow.session.add_all([MaterialShare(material_id=material.id, student_id=s, shared_at=utcnow())
                             for s in wanted if s not in kept])
        await uow.session.flush()
        shares = await access.shared_with(uow.session, material.id)
        await uow.commit()
    return material, shares


async def mark_studied(uow: UnitOfWork, directory: Directory, student: Principal,
                       material_id: uuid.UUID) -> StudiedMark:
    """The first mark emits `material.studied`; a repeat answers with that first mark, and emits nothing."""
    async with uow:
        material = await _visible(uow.session, directory, student, material_id)
        mark = await uow.session.get(StudiedMark, (material.id, student.id))
        if mark is None:
            mark = StudiedMark(material_id=material.id, student_id=student.id, studied_at=utcnow())
            uow.session.add(mark)
            await uow.session.flush()
            uow.emit(MaterialStudied(material_id=material.id, student_id=student.id, subject=material.subject))
            MATERIALS_STUDIED.inc()
        await uow.commit()
    return mark


async def _owned(session: AsyncSession, editor: Principal, material_id: uuid.UUID) -> Material:
    material = await session.get(Material, material_id, with_for_update=True)
    ensure_owner(editor.id, material)
    assert material is not None
    return material


async def _visible(session: AsyncSession, directory: Directory, principal: Principal,
                   material_id: uuid.UUID) -> Material:
    material = await session.get(Material, material_id)
    await access.check_visible(session, await access.viewer_of(session, principal), material, directory=directory)
    assert material is not None
    return material


# --- reading ---------------------------------------------------------------------------------
async def get_material(uow: UnitOfWork, directory: Directory, viewer: Principal,
                       material_id: uuid.UUID) -> tuple[Material, list[uuid.UUID] | None]:
    """The material, and for its owner the students it is shared with. Committed, because a
    link confirmed by the user service on the way is stored."""
    async with uow:
        material = await _visible(uow.session, directory, viewer, material_id)
        shares = await access.shared_with(uow.session, material.id) if material.owner_id == viewer.id else None
        await uow.commit()
    return material, shares


async def thumbnail_of(uow: UnitOfWork, directory: Directory, viewer: Principal, material_id: uuid.UUID) -> Material:
    material, _ = await get_material(uow, directory, viewer, material_id)
    if not material.has_preview:
        raise NotFound("This material has no preview (yet)")
    return material


@dataclass(frozen=True)
class MaterialFilter:
    subject: str | None = None
    grade_level: int | None = None
    tag: str | None = None
    q: str | None = None
    owner_id: uuid.UUID | None = None


async def list_materials(uow: UnitOfWork, deps: MaterialDeps, principal: Principal, where: MaterialFilter,
                         page: PageParams) -> Page[Material]:
    """What the caller may see, newest first; with `q`, the best matches first."""
    found = deps.search.matches(where.q) if where.q else None
    if where.q and found is None:
        return Page[Any](items=[])
    async with uow.read_only():
        viewer = await access.viewer_of(uow.session, principal)
        stmt = _filtered(select(Material), where).where(access.visible_condition(viewer))
        if found is None:
            rows = list(await uow.session.scalars(_by_date(stmt, page).limit(page.limit + 1)))
            return make_page(rows, page.limit, lambda m: [m.created_at.isoformat(), str(m.id)])
        ranked = await uow.session.execute(_by_rank(stmt.add_columns(found.c.rank).join(
            found, found.c.material_id == Material.id), found.c.rank, page).limit(page.limit + 1))
        pairs = [(row[0], float(row[1])) for row in ranked]
    key = {m.id: rank for m, rank in pairs}
    return make_page([m for m, _ in pairs], page.limit,
                     lambda m: [repr(key[m.id]), m.created_at.isoformat(), str(m.id)])


def _filtered(stmt: Select, where: MaterialFilter) -> Select:
    if where.subject:
        stmt = stmt.where(Material.subject_key == subject_key(where.subject))
    if where.grade_level is not None:
        stmt = stmt.where(Material.grade_level == where.grade_level)
    if where.tag:
        tag = " ".join(where.tag.split()).lower()
        stmt = stmt.where(Material.id.in_(select(MaterialTag.material_id).where(MaterialTag.tag == tag)))
    if where.owner_id:
        stmt = stmt.where(Material.owner_id == where.owner_id)
    return stmt


def _by_date(stmt: Select, page: PageParams) -> Select:
    if (after := page.after(datetime, uuid.UUID)) is not None:
        at, last = after
        stmt = stmt.where(or_(Material.created_at < at, and_(Material.created_at == at, Material.id < last)))
    return stmt.order_by(Material.created_at.desc(), Material.id.desc())


def _by_rank(stmt: Select, rank, page: PageParams) -> Select:
    if (after := page.after(str, datetime, uuid.UUID)) is not None:
        score, at, last = _score(after[0]), after[1], after[2]
        stmt = stmt.where(or_(rank < score, and_(rank == score, or_(
            Material.created_at < at, and_(Material.created_at == at, Material.id < last)))))
    return stmt.order_by(rank.desc(), Material.created_at.desc(), Material.id.desc())


def _score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise Unprocessable("Invalid cursor", errors=[{"loc": ["query", "cursor"], "msg": "invalid cursor"}])
    return value
